import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI, Fleet, cleanEnv, runCli, runSetPassword, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { decodePayload } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const APP = fileURLToPath(new URL('../fixtures/oauth-people-client.ts', import.meta.url))
const PASSWORD = 'correct horse battery staple'

/** Runs the app (openid-client plus a scripted browser) for one flow; returns what it printed. */
async function app (node: NodeProcess, flow: string, options: Record<string, unknown> = {}, password = PASSWORD): Promise<Record<string, any>> {
  const { stdout } = await exec(process.execPath, [APP, flow, node.url, password, JSON.stringify(options)], {
    env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }), timeout: 60_000
  })
  return JSON.parse(stdout) as Record<string, any>
}

describe('OAuth for people\'s apps (openid-client, with the browser scripted over HTTP)', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  let ca: string
  const callTool = async (token: string): Promise<number> => (await request1(`${node.url}/mcp/tools/call`, {
    ca, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'get_status' })
  })).status

  before(async () => {
    node = await fleet.start({ args: ['--no-p2p'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
  })
  after(async () => { await fleet.cleanup() })

  it('shows a sign-in page that says how to set up sign-in while no operator password is set', async () => {
    const out = await app(node, 'code')
    assert.equal(out.sign_in_unset, true, 'the page says sign-in is not set up and how to set it')
    assert.equal(out.access_token, undefined)
  })

  it('operator set-password refuses a short password with exit 2 and sets a good one, while the node runs', async () => {
    const short = await runSetPassword(node.dataDir, 'short')
    assert.equal(short.code, 2)
    assert.match(short.stderr, /12 to 1024 characters/)
    const ok = await runSetPassword(node.dataDir, PASSWORD)
    assert.equal(ok.code, 0, ok.stderr)
  })

  it('authorization code with PKCE (S256) after dynamic registration: sign-in, consent, a token for this node only, RFC 9207 iss', async () => {
    // The tokens unused: the 'code' flow ends its grant by reusing a refresh token, and the access token with it.
    const out = await app(node, 'tokens')
    assert.equal(out.failure, undefined, `${out.failure} ${out.error_description ?? ''}`)
    assert.match(out.client_id, /^ehd_/)
    assert.deepEqual(out.offered, ['mcp:read', 'mcp:call', 'offline_access'])
    assert.equal(out.iss, node.ready.url, 'RFC 9207: the authorization response names the issuer')
    const claims = decodePayload(out.access_token)
    assert.equal(claims.aud, node.ready.mcp_url, 'RFC 8707: the token is for this node\'s MCP endpoint')
    assert.equal(claims.iss, node.ready.url)
    assert.equal(claims.scope, 'mcp:read mcp:call')
    assert.equal(claims.sub, 'operator')
    assert.equal(await callTool(out.access_token), 200, 'the token works for a tool call')
  })

  it('rotates the refresh token on use; a used refresh token presented again revokes the whole grant', async () => {
    const out = await app(node, 'code')
    assert.equal(out.refresh_token_issued, true, 'offline_access was approved, so there is a refresh token')
    assert.equal(out.rotated, true, 'refreshing gave a new refresh token')
    assert.equal(out.reuse, 'invalid_grant', 'the old refresh token is refused')
    assert.equal(out.after_reuse, 'invalid_grant', 'and its reuse revoked the newer one too')
    assert.equal(await callTool(out.refreshed_access_token), 401, 'and the grant\'s access tokens with it')
  })

  it('gives only the scopes the operator left ticked, and no refresh token without offline_access', async () => {
    const out = await app(node, 'code', { approve: ['mcp:read'] })
    assert.equal(out.failure, undefined, String(out.failure))
    assert.equal(decodePayload(out.access_token).scope, 'mcp:read')
    assert.equal(out.refresh_token_issued, false)
    assert.equal(await callTool(out.access_token), 403, 'get_status needs mcp:call, which was not given')
  })

  it('remembers the operator\'s approval per app: asked again in a new browser session, the app is not shown consent again', async () => {
    const out = await app(node, 'remembered')
    assert.equal(out.failure, undefined, String(out.failure))
    assert.deepEqual(out.first_offered, ['mcp:read', 'mcp:call'])
    assert.match(out.first_callback, /[?&]code=/)
    assert.equal(out.second_asked_consent, false, 'only the sign-in, no consent page')
    assert.match(out.second_callback, /[?&]code=/)
  })

  it('sends access_denied back to the app when the operator denies', async () => {
    const out = await app(node, 'deny')
    assert.equal(out.error, 'access_denied')
    assert.match(out.callback, /^http:\/\/127\.0\.0\.1:\d+\/callback\?error=access_denied/)
  })

  it('refuses a redirect URI the app did not register with an error page, never redirecting there', async () => {
    const out = await app(node, 'bad-redirect')
    assert.equal(out.status, 400)
    assert.equal(out.location, undefined)
    assert.match(out.page, /This did not work/)
  })

  it('refuses an authorization request without PKCE, and one with plain PKCE', async () => {
    const none = await app(node, 'no-pkce')
    assert.equal(none.error, 'invalid_request')
    assert.match(none.location, /PKCE/)
    const plain = await app(node, 'plain-pkce')
    assert.equal(plain.error, 'invalid_request')
    assert.match(plain.location, /code_challenge_method/)
  })

  it('device authorization grant (RFC 8628): code entry, confirmation, sign-in, consent, then the device gets its token', async () => {
    const out = await app(node, 'device')
    assert.equal(out.failure, undefined, String(out.failure))
    assert.match(out.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/)
    assert.equal(out.verification_uri, `${node.ready.url}/oauth/device`)
    assert.equal(out.input_page, true)
    assert.equal(out.confirm_page, true)
    assert.equal(out.success_page, true)
    assert.equal(decodePayload(out.access_token).scope, 'mcp:read')
  })

  it('refuses self-registration for client_credentials and plain-http redirect URIs (RFC 7591 errors)', async () => {
    const post = async (body: Record<string, unknown>): Promise<{ status: number, json: Record<string, unknown> }> => {
      const r = await request1(`${node.url}/oauth/register`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: r.status, json: r.json() }
    }
    const cc = await post({ client_name: 'sneaky', grant_types: ['client_credentials'], response_types: [], scope: 'mcp:admin' })
    assert.equal(cc.status, 400)
    assert.equal(cc.json.error, 'invalid_client_metadata')
    const http = await post({ client_name: 'plain', redirect_uris: ['http://app.example/callback'], token_endpoint_auth_method: 'none' })
    assert.equal(http.status, 400)
    assert.equal(http.json.error, 'invalid_redirect_uri')
    const https = await post({ client_name: 'ok', redirect_uris: ['https://app.example/callback'], token_endpoint_auth_method: 'none' })
    assert.equal(https.status, 201)
  })

  it('edge-hive grants list shows the approvals; revoking one stops its access token at once', async () => {
    // The id goes after --: one in 64 starts with a dash (lifecycle.test.ts has the answer to that).
    // No offline_access: the code flow's refresh-reuse check would revoke the grant itself.
    const out = await app(node, 'code', { approve: ['mcp:read', 'mcp:call'] })
    const list = await runCli(['grants', 'list', '--json', '--data-dir', node.dataDir])
    assert.equal(list.code, 0, list.stderr)
    const grants = (JSON.parse(list.stdout) as { grants: Array<{ grant_id: string, client_id: string, client_name: string, scopes: string[] }> }).grants
    const mine = grants.find((g) => g.client_id === out.client_id)
    assert.ok(mine !== undefined, `the new approval is listed: ${list.stdout}`)
    assert.equal(mine.client_name, 'Test App')
    assert.deepEqual([...mine.scopes].sort(), ['mcp:call', 'mcp:read'])
    assert.equal(await callTool(out.access_token), 200)
    const revoke = await runCli(['grants', 'revoke', '--data-dir', node.dataDir, '--', mine.grant_id])
    assert.equal(revoke.code, 0, revoke.stderr)
    assert.equal(await callTool(out.access_token), 401, 'the access token stopped working')
    const again = await runCli(['grants', 'revoke', '--data-dir', node.dataDir, '--', mine.grant_id])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /No approval with that id/)
  })

  it('edge-hive login signs a CLI in with the device flow; edge-hive token prints a token that works', async () => {
    const home = fleet.tempDir()
    const env = cleanEnv({ XDG_CONFIG_HOME: home })
    const login = spawn(process.execPath, [CLI, 'login', node.url, '--fingerprint', node.ready.tls_fingerprint!], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    login.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    const code = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no user code shown: ${stderr}`)), 20_000)
      login.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        const m = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(stderr)
        if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
      })
    })
    assert.match(stderr, new RegExp(`open ${node.ready.url}/oauth/device`))
    const approved = await app(node, 'approve-device', { userCode: code })
    assert.equal(approved.success_page, true, String(approved.failure))
    const exit = await new Promise<number | null>((resolve) => login.on('close', resolve))
    assert.equal(exit, 0, stderr)
    assert.match(stdout, /logged in to/)
    const file = join(home, 'edge-hive', 'credentials.json')
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the credentials file is private')
    const token = await runCli(['token', node.url], { env })
    assert.equal(token.code, 0, token.stderr)
    assert.equal(await callTool(token.stdout.trim()), 200)
    const unknown = await runCli(['token', 'https://127.0.0.1:1'], { env })
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /not logged in to https:\/\/127\.0\.0\.1:1/)
  })
})
