// A person's MCP app, the official MCP SDK client with its own OAuth support, against a real
// node: the SDK meets the node's 401, finds the authorization server (RFC 9728, RFC 8414),
// registers itself (RFC 7591), sends the person's browser to the node with PKCE S256 and a
// resource indicator (RFC 8707); the operator signs in and approves on the node's pages (done
// over plain HTTP in the fixture), and the SDK exchanges the code and lists the node's tools.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { Fleet, cleanEnv, setOperatorPassword, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'

const exec = promisify(execFile)
const FIXTURE = fileURLToPath(new URL('../fixtures/mcp-oauth-client.ts', import.meta.url))
const PASSWORD = 'correct horse battery staple'
/** The tools a token of the scopes the node's 401 names may call (provision_node needs mcp:admin). */
const AGENT_TOOLS = ['get_status', 'list_peers']
/** What the node's 401 on /mcp names, and so what the SDKs ask for. */
const CHALLENGE = 'mcp:read mcp:call mcp:resources offline_access'

interface Visit { authorization_url: string, browser: boolean, pages?: string[], offered?: string[][], callback?: string, state_matches?: boolean }
interface Run {
  registered?: { client_id: string, client_secret?: string, token_endpoint_auth_method?: string, grant_types?: string[], redirect_uris?: string[], scope?: string }
  visits?: Visit[]
  first_connect?: string | { name: string, message: string, code?: string, unauthorized: boolean, oauth: boolean }
  finish_auth?: string | { name: string, message: string, code?: string, unauthorized: boolean, oauth: boolean }
  second_connect?: { name: string, message: string, unauthorized: boolean }
  saved_tokens?: Array<{ access_token: string, refresh_token?: string, scope?: string, token_type: string, expires_in?: number }>
  era?: string
  version?: string
  tools?: string[]
  status?: { node_id: string, name: string }
  status_is_error?: boolean
  tools_after_refresh?: string[]
  requests: Array<{ method: string, url: string, status: number }>
  verifier_saved: boolean
  failure?: string
}

describe('the official MCP SDK client\'s own OAuth (authorization code, DCR, PKCE) against a node', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  let ca: string

  /** Runs the app in its own process, trusting the node's certificate; returns its JSON. */
  const app = async (options: Record<string, unknown>): Promise<Run> => {
    const { stdout, stderr } = await exec(process.execPath, [FIXTURE, node.ready.mcp_url, PASSWORD, JSON.stringify(options)], {
      env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }), timeout: 60_000
    })
    const run = JSON.parse(stdout) as Run
    assert.equal(run.failure, undefined, `the app failed: ${run.failure}\n${stdout}\n${stderr}`)
    return run
  }
  const path = (url: string): string => url.startsWith(node.url) ? url.slice(node.url.length) : url
  /** The SDK's HTTP requests as `METHOD /path STATUS`. */
  const trail = (run: Run): string[] => run.requests.map((r) => `${r.method} ${path(r.url)} ${r.status}`)

  /** What every successful run shows: discovery from the 401, DCR, PKCE S256, resource, iss, state. */
  const assertAuthorizedByItself = (run: Run, scope: string): { authorization: URL, callback: URL } => {
    // Discovery from nothing but the MCP URL, then registration, then (after the browser) the token.
    assert.deepEqual(trail(run).slice(0, 5), [
      'POST /mcp 401',
      'GET /.well-known/oauth-protected-resource/mcp 200',
      'GET /.well-known/oauth-authorization-server 200',
      'POST /oauth/register 201',
      'POST /oauth/token 200'
    ], trail(run).join('\n'))
    assert.equal(typeof run.first_connect, 'object')
    assert.equal((run.first_connect as { unauthorized: boolean }).unauthorized, true, 'connect without a token ends in UnauthorizedError, after the redirect')

    // Registered by itself: a public client (no secret), with the loopback redirect URI.
    assert.match(run.registered?.client_id ?? '', /^ehd_/)
    assert.equal(run.registered!.token_endpoint_auth_method, 'none')
    assert.equal(run.registered!.client_secret, undefined)
    assert.match(run.registered!.redirect_uris![0]!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/)

    // The authorization request the SDK built.
    assert.equal(run.visits?.length, 1,
      `one trip through the browser: ${JSON.stringify(run.visits?.map((v) => ({ scope: new URL(v.authorization_url).searchParams.get('scope'), offered: v.offered, pages: v.pages })))}\n${trail(run).join('\n')}`)
    const visit = run.visits[0]!
    const authorization = new URL(visit.authorization_url)
    assert.equal(`${authorization.origin}${authorization.pathname}`, `${node.ready.url}/oauth/authorize`)
    const q = authorization.searchParams
    assert.equal(q.get('response_type'), 'code')
    assert.equal(q.get('client_id'), run.registered!.client_id)
    assert.equal(q.get('code_challenge_method'), 'S256')
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/)
    assert.equal(q.get('resource'), node.ready.mcp_url, 'RFC 8707 resource: the MCP endpoint from the RFC 9728 metadata')
    assert.equal(q.get('redirect_uri'), run.registered!.redirect_uris![0])
    assert.equal(q.get('scope'), scope)
    assert.ok((q.get('state') ?? '').length > 0)
    assert.equal(run.verifier_saved, true)

    // The person signed in and approved; the browser came back with code, state and iss (RFC 9207).
    assert.deepEqual(visit.pages, ['login', 'consent'])
    const callback = new URL(visit.callback!)
    assert.equal(`${callback.origin}${callback.pathname}`, run.registered!.redirect_uris![0])
    assert.ok((callback.searchParams.get('code') ?? '').length > 0, visit.callback)
    assert.equal(callback.searchParams.get('iss'), node.ready.url)
    assert.equal(visit.state_matches, true)
    assert.equal(run.finish_auth, 'ok')
    return { authorization, callback }
  }

  /** The access token: the node's signature, for the MCP endpoint, with what was approved. */
  const assertToken = async (token: string, clientId: string, scope: string): Promise<void> => {
    const jwks = (await request1(`${node.url}/oauth/jwks`, { ca })).json<{ keys: object[] }>()
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), { issuer: node.ready.url, audience: node.ready.mcp_url, typ: 'at+jwt' })
    assert.equal(protectedHeader.alg, 'EdDSA')
    assert.equal(payload.aud, node.ready.mcp_url)
    assert.equal(payload.scope, scope)
    assert.equal(payload.client_id, clientId)
    assert.equal(payload.node_id, node.ready.node_id)
  }

  before(async () => {
    node = await fleet.start({ args: ['--no-p2p'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    await setOperatorPassword(node.dataDir, PASSWORD)
  })
  after(async () => { await fleet.cleanup() })

  it('v2 SDK, 2026-07-28: discovers, registers, asks for what the 401 names (not what it was configured with), lists and calls tools, and refreshes on its own', async () => {
    const run = await app({ mode: 'auto', scope: 'mcp:read mcp:call mcp:admin offline_access', refresh: true })
    const { authorization } = assertAuthorizedByItself(run, CHALLENGE)
    // The SDK adds prompt=consent because it asks for offline_access; the library issues a refresh token only then.
    assert.equal(authorization.searchParams.get('prompt'), 'consent')
    assert.deepEqual(run.registered!.grant_types, ['authorization_code', 'refresh_token'], 'the v2 SDK registers for refresh tokens by default')
    assert.deepEqual(run.visits![0]!.offered, [['mcp:read', 'mcp:call', 'mcp:resources', 'offline_access']])

    assert.equal(run.era, 'modern')
    assert.equal(run.version, '2026-07-28')
    assert.deepEqual(run.tools, AGENT_TOOLS, 'no mcp:admin asked for, so no provision_node')
    assert.equal(run.status_is_error, false)
    assert.equal(run.status?.node_id, node.ready.node_id)

    const [first, refreshed] = run.saved_tokens!
    assert.equal(first!.token_type, 'Bearer')
    assert.equal(first!.scope, 'mcp:read mcp:call mcp:resources')
    assert.ok(first!.refresh_token, 'offline_access approved: a refresh token')
    await assertToken(first!.access_token, run.registered!.client_id, 'mcp:read mcp:call mcp:resources')

    // The stored access token stopped working: the SDK refreshed on the 401, with a rotated refresh token, no new browser trip.
    assert.deepEqual(run.tools_after_refresh, AGENT_TOOLS)
    assert.equal(run.saved_tokens!.length, 2)
    assert.ok(refreshed!.refresh_token !== undefined && refreshed!.refresh_token !== first!.refresh_token, 'the refresh token rotates')
    await assertToken(refreshed!.access_token, run.registered!.client_id, 'mcp:read mcp:call mcp:resources')
    assert.deepEqual(trail(run).slice(-3), ['POST /mcp 401', 'POST /oauth/token 200', 'POST /mcp 200'])
    assert.equal(run.second_connect, undefined)
  })

  it('v2 SDK, 2025-11-25 sessions: the operator approves mcp:read and mcp:call only, so no provision_node and no refresh token', async () => {
    const run = await app({ mode: 'legacy', scope: 'mcp:read mcp:call', approve: ['mcp:read', 'mcp:call'] })
    assertAuthorizedByItself(run, CHALLENGE)
    assert.deepEqual(run.visits![0]!.offered, [['mcp:read', 'mcp:call', 'mcp:resources', 'offline_access']])
    assert.equal(run.era, 'legacy')
    assert.equal(run.version, '2025-11-25')
    assert.deepEqual(run.tools, ['get_status', 'list_peers'])
    assert.equal(run.status_is_error, false)
    assert.equal(run.status?.node_id, node.ready.node_id)
    assert.equal(run.saved_tokens!.length, 1)
    assert.equal(run.saved_tokens![0]!.scope, 'mcp:read mcp:call')
    assert.equal(run.saved_tokens![0]!.refresh_token, undefined)
    await assertToken(run.saved_tokens![0]!.access_token, run.registered!.client_id, 'mcp:read mcp:call')
  })

  it('v2 SDK: when the operator denies, finishAuth throws access_denied, no token is issued and no tools are listed', async () => {
    const run = await app({ mode: 'auto', scope: 'mcp:read mcp:call', decision: 'deny' })
    assert.match(run.registered?.client_id ?? '', /^ehd_/)
    const visit = run.visits![0]!
    assert.deepEqual(visit.pages, ['login', 'consent'])
    const callback = new URL(visit.callback!)
    assert.equal(callback.searchParams.get('error'), 'access_denied')
    assert.equal(callback.searchParams.get('code'), null)
    assert.equal(callback.searchParams.get('iss'), node.ready.url)
    assert.equal(visit.state_matches, true)
    const finish = run.finish_auth as { name: string, code?: string, oauth: boolean }
    assert.equal(finish.oauth, true, JSON.stringify(finish))
    assert.equal(finish.code, 'access_denied')
    assert.equal(run.saved_tokens, undefined)
    assert.ok(!trail(run).some((r) => r.includes('/oauth/token')), 'no token request')
    // Connecting again only starts another authorization (the person is not asked here).
    assert.equal(run.second_connect?.unauthorized, true)
    assert.equal(run.tools, undefined)
    assert.equal(run.visits!.length, 2)
    assert.equal(run.visits![1]!.browser, false)
  })

  it('v1 SDK (@modelcontextprotocol/sdk 1.x): the same flow, finishAuth with the code, and a refresh', async () => {
    const run = await app({ sdk: 'v1', scope: 'mcp:read mcp:call offline_access', refresh: true })
    const { authorization } = assertAuthorizedByItself(run, CHALLENGE)
    assert.equal(authorization.searchParams.get('prompt'), 'consent')
    assert.deepEqual(run.visits![0]!.offered, [['mcp:read', 'mcp:call', 'mcp:resources', 'offline_access']])
    assert.equal(run.version, '2025-11-25')
    assert.deepEqual(run.tools, ['get_status', 'list_peers'])
    assert.equal(run.status_is_error, false)
    const [first, refreshed] = run.saved_tokens!
    await assertToken(first!.access_token, run.registered!.client_id, 'mcp:read mcp:call mcp:resources')
    assert.ok(first!.refresh_token)
    assert.deepEqual(run.tools_after_refresh, ['get_status', 'list_peers'])
    assert.ok(refreshed!.refresh_token !== undefined && refreshed!.refresh_token !== first!.refresh_token)
    assert.equal(run.second_connect, undefined)
  })

  it('v2 SDK with no scope configured: it asks for what the node\'s 401 names and gets a token', async () => {
    const run = await app({ mode: 'auto' })
    assert.equal(run.finish_auth, 'ok', JSON.stringify({ visits: run.visits, finish_auth: run.finish_auth }))
    assert.equal(new URL(run.visits![0]!.authorization_url).searchParams.get('scope'), 'mcp:read mcp:call mcp:resources offline_access')
    assert.ok((run.tools ?? []).includes('get_status'))
  })

  it('v2 SDK: the operator unticks a scope at consent and the app gets a token with the rest', async () => {
    const run = await app({ mode: 'auto', approve: ['mcp:read', 'mcp:call'] })
    assert.equal(run.finish_auth, 'ok', JSON.stringify({ visits: run.visits, first_connect: run.first_connect }))
    assert.deepEqual(run.tools, ['get_status', 'list_peers'])
    assert.equal(run.saved_tokens?.[0]?.scope, 'mcp:read mcp:call')
  })
})
