import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHmac } from 'node:crypto'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { NodeProcess, cleanEnv, removeDir, tempDir } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { decodePayload, getToken, operatorClient, signWithNodeKey } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const SDK_CLIENT = fileURLToPath(new URL('../fixtures/sdk-client-credentials.ts', import.meta.url))

function challengeOf (res: Answer): string {
  return String(res.headers['www-authenticate'] ?? '')
}

describe('OAuth 2.1 for agents', () => {
  let node: NodeProcess
  let ca: string
  let op: { client_id: string, client_secret: string }
  const dirs: string[] = []

  const api = async (token: string | undefined, path = '/admin/clients', extra: Record<string, string> = {}): Promise<Answer> =>
    await request1(`${node.url}${path}`, { ca, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...extra } })
  const addClient = async (name: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<{ client: { client_id: string }, client_secret?: string }> => {
    const t = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const res = await request1(`${node.url}/admin/clients`, {
      ca, method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, scopes, ...extra })
    })
    assert.equal(res.status, 201, res.body)
    return res.json()
  }

  before(async () => {
    node = await NodeProcess.start({ args: ['--name', 'oauth-test'] })
    dirs.push(node.dataDir)
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    op = operatorClient(node.dataDir)
  })
  after(async () => {
    await node.kill()
    for (const d of dirs) removeDir(d)
  })

  it('creates one operator client on first start, in a 0600 file, and logs only the path', async () => {
    const { statSync } = await import('node:fs')
    assert.equal(statSync(join(node.dataDir, 'operator-client.json')).mode & 0o777, 0o600)
    assert.match(op.client_secret, /^ehs_[A-Za-z0-9_-]{43}$/, '256 bits of randomness')
    assert.ok(node.stdout.includes(join(node.dataDir, 'operator-client.json')))
    assert.ok(!node.stdout.includes(op.client_secret), 'the secret is not in the log')
  })

  it('publishes RFC 8414 metadata naming the auth methods and signing algorithms', async () => {
    const res = await request1(`${node.url}/.well-known/oauth-authorization-server`, { ca })
    assert.equal(res.status, 200)
    const m = res.json<Record<string, any>>()
    assert.equal(m.issuer, node.ready.url)
    assert.equal(m.token_endpoint, `${node.ready.url}/oauth/token`)
    assert.deepEqual([...m.grant_types_supported].sort(), ['authorization_code', 'client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'])
    // OAuth 2.1 and the MCP spec: clients refuse a server that does not say it does S256.
    assert.deepEqual(m.code_challenge_methods_supported, ['S256'])
    assert.equal(m.authorization_response_iss_parameter_supported, true, 'RFC 9207')
    assert.equal(m.registration_endpoint, `${node.ready.url}/oauth/register`)
    assert.equal(m.device_authorization_endpoint, `${node.ready.url}/oauth/device/auth`)
    for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt']) assert.ok(m.token_endpoint_auth_methods_supported.includes(method))
    assert.ok(m.token_endpoint_auth_signing_alg_values_supported.includes('EdDSA'))
    assert.deepEqual(m.scopes_supported, ['mcp:read', 'mcp:call', 'mcp:resources', 'mcp:admin', 'offline_access'])
    assert.ok(m.revocation_endpoint && m.introspection_endpoint && m.jwks_uri)
  })

  it('keeps its metadata URLs on the issuer whatever Host header a client sends', async () => {
    // (The TLS check is the client's business: here only the server's use of Host is tested.)
    const res = await request1(`${node.url}/.well-known/oauth-authorization-server`, { ca, headers: { host: 'evil.example:666' }, tls: { checkServerIdentity: () => undefined } })
    assert.equal(res.json<{ token_endpoint: string }>().token_endpoint, `${node.ready.url}/oauth/token`)
  })

  it('publishes RFC 9728 metadata whose resource is exactly the MCP endpoint URL', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const m = (await request1(`${node.url}${path}`, { ca })).json<Record<string, any>>()
      assert.equal(m.resource, node.ready.mcp_url)
      assert.deepEqual(m.authorization_servers, [node.ready.url])
      assert.deepEqual(m.bearer_methods_supported, ['header'])
      // MCP clients that find no scope in a challenge ask for these (and get the part they may have).
      assert.deepEqual(m.scopes_supported, ['mcp:read', 'mcp:call', 'mcp:resources'], 'what an agent uses: asking for all of it never asks for administration')
    }
  })

  it('issues an RFC 9068 JWT with the seed claims, verifiable with the published JWKS', async () => {
    const res = await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:read mcp:call' })
    assert.equal(res.status, 200, res.body)
    const body = res.json<{ access_token: string, token_type: string, expires_in: number, scope: string }>()
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.expires_in, 3600)
    assert.equal(body.scope, 'mcp:read mcp:call')
    assert.equal(res.headers['cache-control'], 'no-store')
    const header = JSON.parse(Buffer.from(body.access_token.split('.')[0]!, 'base64url').toString())
    assert.equal(header.typ, 'at+jwt')
    assert.equal(header.alg, 'EdDSA')
    const { createLocalJWKSet, jwtVerify } = await import('jose')
    const jwks = (await request1(`${node.url}/oauth/jwks`, { ca })).json<{ keys: object[] }>()
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks as never), { issuer: node.ready.url, audience: node.ready.mcp_url, typ: 'at+jwt' })
    assert.equal(payload.sub, op.client_id)
    assert.equal(payload.client_id, op.client_id)
    assert.equal(payload.scope, 'mcp:read mcp:call')
    assert.deepEqual(payload.scopes, ['mcp:read', 'mcp:call'])
    assert.equal(payload.node_id, node.ready.node_id)
    assert.equal(Number(payload.exp) - Number(payload.iat), 3600)
    assert.equal(typeof payload.jti, 'string')
  })

  it('gives the registered scopes when no scope is asked for, and agent_type when registered', async () => {
    const { client, client_secret: secret } = await addClient('agent-default', ['mcp:read', 'mcp:resources'], { agent_type: 'claude', agent_version: '4.5' })
    const res = await getToken(node.url, client.client_id, secret!)
    assert.equal(res.json<{ scope: string }>().scope, 'mcp:read mcp:resources')
    const claims = decodePayload(res.json<{ access_token: string }>().access_token)
    assert.equal(claims.agent_type, 'claude')
    assert.equal(claims.agent_version, '4.5')
  })

  it('grants the part of the asked scopes the client may have and says so in `scope` (RFC 6749 §3.3); invalid_scope only when none is left', async () => {
    const { client, client_secret: secret } = await addClient('reader', ['mcp:read'])
    // What MCP clients ask for when they take the authorization server's whole list.
    const everything = await getToken(node.url, client.client_id, secret!, { scope: 'mcp:read mcp:call mcp:resources mcp:admin offline_access' })
    assert.equal(everything.status, 200, everything.body)
    assert.equal(everything.json<{ scope: string }>().scope, 'mcp:read')
    assert.deepEqual(decodePayload(everything.json<{ access_token: string }>().access_token).scopes, ['mcp:read'])
    const unknown = await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:read mcp:everything' })
    assert.equal(unknown.status, 200, unknown.body)
    assert.equal(unknown.json<{ scope: string }>().scope, 'mcp:read')
    const notAllowed = await getToken(node.url, client.client_id, secret!, { scope: 'mcp:admin' })
    assert.equal(notAllowed.status, 400)
    const refusal = notAllowed.json<{ error: string, error_description: string }>()
    assert.equal(refusal.error, 'invalid_scope')
    assert.match(refusal.error_description, /it may have: mcp:read/)
    const junk = await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:everything' })
    assert.equal(junk.json().error, 'invalid_scope')
  })

  it('refuses a resource that is another server with invalid_target (RFC 8707)', async () => {
    const res = await getToken(node.url, op.client_id, op.client_secret, { resource: 'https://other.example/mcp' })
    assert.equal(res.status, 400)
    assert.equal(res.json().error, 'invalid_target')
  })

  it('refuses a wrong secret with 401 invalid_client, and an unknown grant with unsupported_grant_type', async () => {
    const bad = await getToken(node.url, op.client_id, `${op.client_secret}x`)
    assert.equal(bad.status, 401)
    assert.equal(bad.json().error, 'invalid_client')
    const grant = await request1(`${node.url}/oauth/token`, {
      ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&client_id=${op.client_id}&client_secret=${op.client_secret}`
    })
    assert.equal(grant.status, 400)
    assert.equal(grant.json().error, 'unsupported_grant_type')
  })

  it('accepts client_secret_post', async () => {
    const res = await request1(`${node.url}/oauth/token`, {
      ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: op.client_id, client_secret: op.client_secret, scope: 'mcp:read' }).toString()
    })
    assert.equal(res.status, 200, res.body)
  })

  it('answers the seed curl flow with a JSON body, verbatim, on both seed routes', async () => {
    const cert = join(node.dataDir, 'tls', 'cert.pem')
    for (const path of ['/mcp/auth/token', `/mcp/node/${node.ready.node_id}/auth/token`]) {
      const { stdout } = await exec('curl', ['-sS', '--cacert', cert, '-X', 'POST', `${node.url}${path}`, '-H', 'Content-Type: application/json',
        '-d', JSON.stringify({ grant_type: 'client_credentials', client_id: op.client_id, client_secret: op.client_secret, scope: 'mcp:read mcp:call' })])
      const body = JSON.parse(stdout)
      assert.equal(body.token_type, 'Bearer')
      assert.equal(body.expires_in, 3600)
      assert.equal(body.scope, 'mcp:read mcp:call')
      assert.equal((await api(body.access_token, '/admin/clients')).status, 403, 'valid token, lacking mcp:admin')
    }
    const other = await request1(`${node.url}/mcp/node/brave-otter-000000/auth/token`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(other.status, 404)
    assert.equal(other.json().error, 'unknown_node')
    const wrong = await request1(`${node.url}/mcp/auth/token`, {
      ca, method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: op.client_id, client_secret: 'nope' })
    })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.json().error, 'invalid_client')
  })

  it('lets the official MCP SDK client find the server from a 401 and get a token on its own (client secret)', async () => {
    const { client, client_secret: secret } = await addClient('sdk-agent', ['mcp:read', 'mcp:admin'])
    const { stdout } = await exec(process.execPath, [SDK_CLIENT, node.ready.url, client.client_id, 'secret', secret!], {
      env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') })
    })
    const out = JSON.parse(stdout)
    assert.equal(out.result, 'AUTHORIZED')
    assert.equal(out.status, 200)
    assert.ok(Array.isArray(out.body.clients))
  })

  it('accepts private_key_jwt (RFC 7523) through the SDK\'s PrivateKeyJwtProvider', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    const dir = tempDir(); dirs.push(dir)
    const keyFile = join(dir, 'agent.jwk')
    writeFileSync(keyFile, JSON.stringify(await exportJWK(privateKey)), { mode: 0o600 })
    const { client, client_secret: secret } = await addClient('jwt-agent', ['mcp:admin'], { jwks: { keys: [await exportJWK(publicKey)] } })
    assert.equal(secret, undefined, 'no secret for a key-based client')
    const { stdout } = await exec(process.execPath, [SDK_CLIENT, node.ready.url, client.client_id, 'jwt', keyFile], { env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }) })
    const out = JSON.parse(stdout)
    assert.equal(out.result, 'AUTHORIZED')
    assert.equal(out.status, 200)
    // A replayed assertion is refused.
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(client.client_id).setSubject(client.client_id)
      .setAudience(node.ready.url).setJti('fixed-jti').setIssuedAt().setExpirationTime('1m').sign(privateKey)
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      client_id: client.client_id
    }).toString()
    const post = async (): Promise<Answer> => await request1(`${node.url}/oauth/token`, { ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form })
    assert.equal((await post()).status, 200)
    const replay = await post()
    assert.equal(replay.status, 401)
    assert.equal(replay.json().error, 'invalid_client')
  })

  describe('the resource server refuses', () => {
    let good: string
    const base = (): Record<string, unknown> => ({
      iss: node.ready.url, aud: node.ready.mcp_url, sub: op.client_id, client_id: op.client_id,
      scope: 'mcp:admin', jti: `t-${Math.random()}`, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300
    })
    const expectInvalidToken = async (token: string): Promise<void> => {
      const res = await api(token)
      assert.equal(res.status, 401)
      assert.equal(res.json().error, 'invalid_token')
      assert.match(challengeOf(res), /^Bearer .*error="invalid_token"/)
      assert.match(challengeOf(res), new RegExp(`resource_metadata="${node.ready.url}/.well-known/oauth-protected-resource/mcp"`))
    }

    before(async () => {
      good = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    })

    it('nothing to a request that proves the forger works: a correct self-signed token is accepted', async () => {
      assert.equal((await api(await signWithNodeKey(node.dataDir, base()))).status, 200)
      assert.equal((await api(good)).status, 200)
    })

    it('a request without a token: 401 with the challenge and resource_metadata (RFC 9728 §5.1)', async () => {
      const res = await api(undefined)
      assert.equal(res.status, 401)
      assert.match(challengeOf(res), /^Bearer realm="edge-hive", scope="mcp:admin", resource_metadata="https:\/\/.+\/\.well-known\/oauth-protected-resource\/mcp"$/)
      assert.doesNotMatch(challengeOf(res), /error=/, 'RFC 6750 §3.1: no error code without credentials')
    })

    it('a malformed Authorization header', async () => {
      await expectInvalidToken('not a jwt at all')
    })

    it('alg: none', async () => {
      const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
      await expectInvalidToken(`${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(base())}.`)
    })

    it('HS256 signed with the node\'s public key', async () => {
      const jwks = (await request1(`${node.url}/oauth/jwks`, { ca })).json<{ keys: Array<{ x: string }> }>()
      const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
      const input = `${enc({ alg: 'HS256', typ: 'at+jwt' })}.${enc(base())}`
      for (const key of [JSON.stringify(jwks.keys[0]), Buffer.from(jwks.keys[0]!.x, 'base64url')]) {
        await expectInvalidToken(`${input}.${createHmac('sha256', key).update(input).digest('base64url')}`)
      }
    })

    it('an expired token', async () => {
      await expectInvalidToken(await signWithNodeKey(node.dataDir, { ...base(), iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }))
    })

    it('a token not valid yet', async () => {
      await expectInvalidToken(await signWithNodeKey(node.dataDir, { ...base(), nbf: Math.floor(Date.now() / 1000) + 3600 }))
    })

    it('a token whose aud is another server (RFC 8707)', async () => {
      await expectInvalidToken(await signWithNodeKey(node.dataDir, { ...base(), aud: 'https://other.example/mcp' }))
    })

    it('a token from another issuer', async () => {
      await expectInvalidToken(await signWithNodeKey(node.dataDir, { ...base(), iss: 'https://other.example' }))
    })

    it('a token with a tampered payload', async () => {
      const [h, , s] = good.split('.')
      const payload = { ...decodePayload(good), scope: 'mcp:admin mcp:call', exp: Math.floor(Date.now() / 1000) + 99999 }
      await expectInvalidToken(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`)
    })

    it('a token that is not an access token (typ JWT)', async () => {
      await expectInvalidToken(await signWithNodeKey(node.dataDir, base(), { typ: 'JWT' }))
    })

    it('a revoked token (RFC 7009), from then on, and introspection says inactive (RFC 7662)', async () => {
      const t = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
      assert.equal((await api(t)).status, 200)
      const introspect = async (): Promise<Record<string, unknown>> => (await request1(`${node.url}/oauth/introspect`, {
        ca, method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${op.client_id}:${op.client_secret}`).toString('base64')}` },
        body: `token=${t}`
      })).json()
      const before = await introspect()
      assert.equal(before.active, true)
      assert.equal(before.client_id, op.client_id)
      const revoke = await request1(`${node.url}/oauth/revoke`, {
        ca, method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${op.client_id}:${op.client_secret}`).toString('base64')}` },
        body: `token=${t}`
      })
      assert.equal(revoke.status, 200)
      await expectInvalidToken(t)
      assert.deepEqual(await introspect(), { active: false })
    })

    it('another client cannot revoke a token it does not own', async () => {
      const { client, client_secret: secret } = await addClient('bystander', ['mcp:read'])
      const t = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
      const res = await request1(`${node.url}/oauth/revoke`, {
        ca, method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}` },
        body: `token=${t}`
      })
      assert.equal(res.status, 200, 'RFC 7009: the answer does not tell')
      assert.equal((await api(t)).status, 200, 'the token still works')
    })

    it('a valid token without the needed scope: 403 insufficient_scope naming the scope', async () => {
      const t = (await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:read' })).json<{ access_token: string }>().access_token
      const res = await api(t)
      assert.equal(res.status, 403)
      assert.equal(res.json().error, 'insufficient_scope')
      assert.match(challengeOf(res), /error="insufficient_scope"/)
      assert.match(challengeOf(res), /scope="mcp:admin"/)
    })

    it('a token in the query string, even a valid one', async () => {
      const res = await request1(`${node.url}/admin/clients?access_token=${good}`, { ca })
      assert.equal(res.status, 400)
      assert.equal(res.json().error, 'invalid_request')
      const both = await request1(`${node.url}/admin/clients?access_token=${good}`, { ca, headers: { authorization: `Bearer ${good}` } })
      assert.equal(both.status, 400)
    })

    it('tokens of a revoked client, at once', async () => {
      const { client, client_secret: secret } = await addClient('to-revoke', ['mcp:admin'])
      const t = (await getToken(node.url, client.client_id, secret!)).json<{ access_token: string }>().access_token
      assert.equal((await api(t)).status, 200)
      const admin = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
      const res = await request1(`${node.url}/admin/clients/${client.client_id}/revoke`, { ca, method: 'POST', headers: { authorization: `Bearer ${admin}` } })
      assert.equal(res.status, 200)
      await expectInvalidToken(t)
      assert.equal((await getToken(node.url, client.client_id, secret!)).json().error, 'invalid_client')
    })
  })

  it('never writes a secret or token into its log', async () => {
    const t = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    await api(t)
    assert.ok(!node.stdout.includes(op.client_secret))
    assert.ok(!node.stdout.includes(t))
    assert.ok(!node.stdout.includes(t.split('.')[2]!))
  })
})
