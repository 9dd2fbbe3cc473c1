// Attacks on OAuth grants, clients and tokens (issue #12, findings 3, 12 and 13, and their
// siblings): real nodes from the built CLI, real HTTPS, real OAuth flows driven by openid-client
// with the browser scripted over HTTP (test/fixtures/oauth-people-client.ts).
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer as createNetServer } from 'node:net'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Fleet, cleanEnv, filesUnder, freePort, runCli, setOperatorPassword, type NodeProcess } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { decodePayload, getToken, operatorClient } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const APP = fileURLToPath(new URL('../fixtures/oauth-people-client.ts', import.meta.url))
const PASSWORD = 'correct horse battery staple'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** A person's app (openid-client) approved by the operator in a scripted browser; what it printed. */
async function app (node: NodeProcess, flow: string, options: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const { stdout } = await exec(process.execPath, [APP, flow, node.url, PASSWORD, JSON.stringify(options)], {
    env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }), timeout: 60_000
  })
  const out = JSON.parse(stdout) as Record<string, any>
  assert.equal(out.failure, undefined, `${flow}: ${out.failure} ${out.error_description ?? ''}`)
  return out
}

/** The parts a test needs of a running node: its CA, an operator token, requests. */
class Target {
  readonly node: NodeProcess
  readonly ca: string
  constructor (node: NodeProcess) {
    this.node = node
    this.ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
  }

  async operatorToken (): Promise<string> {
    const op = operatorClient(this.node.dataDir)
    const r = await getToken(this.node.url, op.client_id, op.client_secret)
    assert.equal(r.status, 200, r.body)
    return r.json<{ access_token: string }>().access_token
  }

  /** A tool call needing mcp:call: 200 while the token is good, 401 once it is not. */
  async callTool (token: string): Promise<number> {
    return (await request1(`${this.node.url}/mcp/tools/call`, {
      ca: this.ca, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'get_status' })
    })).status
  }

  async form (path: string, body: Record<string, string>, basic?: [string, string]): Promise<Answer> {
    const auth: Record<string, string> = basic === undefined ? {} : { authorization: `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString('base64')}` }
    return await request1(`${this.node.url}${path}`, { ca: this.ca, method: 'POST', headers: { ...FORM, ...auth }, body: new URLSearchParams(body).toString() })
  }

  async json (method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
    return await request1(`${this.node.url}${path}`, {
      ca: this.ca,
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
  }

  /** Dynamic client registration (RFC 7591) as an attacker would do it, by hand. */
  async register (metadata: Record<string, unknown>): Promise<Answer> {
    return await this.json('POST', '/oauth/register', undefined, { client_name: 'attacker', redirect_uris: ['https://app.example/cb'], ...metadata })
  }

  async grantIds (clientId: string): Promise<string[]> {
    const list = await runCli(['grants', 'list', '--json', '--data-dir', this.node.dataDir])
    assert.equal(list.code, 0, list.stderr)
    return (JSON.parse(list.stdout) as { grants: Array<{ grant_id: string, client_id: string }> }).grants.filter((g) => g.client_id === clientId).map((g) => g.grant_id)
  }

  /** The audit log's latest entries, as the operator reads them. */
  async auditText (): Promise<string> {
    const uri = encodeURIComponent('edge-hive://logs/latest')
    const r = await this.json('GET', `/mcp/node/${this.node.ready.node_id}/resources/${uri}`, await this.operatorToken())
    assert.equal(r.status, 200, r.body)
    return r.body
  }
}

describe('attack: OAuth grants, clients and tokens', () => {
  const fleet = new Fleet()
  let t: Target
  before(async () => {
    t = new Target(await fleet.start({ args: ['--no-p2p'] }))
    await setOperatorPassword(t.node.dataDir, PASSWORD)
  })
  after(async () => { await fleet.cleanup() })

  describe('finding 3: every way a grant ends stops its access tokens at once', () => {
    it('a reused refresh token ends the grant, and every access token of that grant stops working at once (RFC 9700 §4.14.2)', async () => {
      const out = await app(t.node, 'code')
      assert.equal(out.reuse, 'invalid_grant', 'the used refresh token is refused')
      assert.equal(out.after_reuse, 'invalid_grant', 'its reuse ended the grant')
      assert.equal(await t.callTool(out.access_token), 401, 'the first access token of the ended grant is refused')
      assert.equal(await t.callTool(out.refreshed_access_token), 401, 'the access token from the refresh is refused')
      assert.deepEqual(await t.grantIds(out.client_id), [], 'the ended grant is not listed')
      const audit = await t.auditText()
      assert.match(audit, /grant\.revoked/)
      assert.match(audit, /refresh_token_reuse/, 'the audit says why the grant ended')
    })

    it('revoking a refresh token at /oauth/revoke stops the access tokens of its grant (RFC 7009 §2.1)', async () => {
      const out = await app(t.node, 'tokens')
      assert.ok(typeof out.refresh_token === 'string', 'offline_access gave a refresh token')
      assert.equal(await t.callTool(out.access_token), 200)
      const r = await t.form('/oauth/revoke', { client_id: out.client_id, token: out.refresh_token, token_type_hint: 'refresh_token' })
      assert.equal(r.status, 200, r.body)
      assert.equal(await t.callTool(out.access_token), 401, 'the access token of the revoked refresh token\'s grant is refused')
      const refresh = await t.form('/oauth/token', { client_id: out.client_id, grant_type: 'refresh_token', refresh_token: out.refresh_token })
      assert.equal(refresh.json().error, 'invalid_grant')
    })

    it('edge-hive clients revoke revokes an app that registered itself: its grants end, its tokens stop, it cannot refresh', async () => {
      const out = await app(t.node, 'tokens')
      assert.equal(await t.callTool(out.access_token), 200)
      assert.equal((await t.grantIds(out.client_id)).length, 1)
      const shown = await runCli(['clients', 'show', out.client_id, '--json', '--data-dir', t.node.dataDir])
      assert.equal(shown.code, 0, shown.stderr)
      assert.equal(JSON.parse(shown.stdout).client.registered_by, 'itself')
      const revoked = await runCli(['clients', 'revoke', out.client_id, '--json', '--data-dir', t.node.dataDir])
      assert.equal(revoked.code, 0, revoked.stderr)
      const view = JSON.parse(revoked.stdout).client as Record<string, unknown>
      assert.equal(view.status, 'revoked')
      assert.equal(view.registered_by, 'itself')
      assert.equal(await t.callTool(out.access_token), 401, 'its access token stopped at once')
      assert.deepEqual(await t.grantIds(out.client_id), [], 'its grant ended')
      const refresh = await t.form('/oauth/token', { client_id: out.client_id, grant_type: 'refresh_token', refresh_token: out.refresh_token })
      assert.equal(refresh.status, 401, refresh.body)
      assert.equal(refresh.json().error, 'invalid_client', 'a revoked app cannot authenticate')
      const listed = await runCli(['clients', 'list', '--json', '--data-dir', t.node.dataDir])
      assert.equal(JSON.parse(listed.stdout).clients.find((c: { client_id: string }) => c.client_id === out.client_id)?.status, 'revoked')
      const rotate = await runCli(['clients', 'rotate-secret', out.client_id, '--data-dir', t.node.dataDir])
      assert.equal(rotate.code, 1)
      assert.match(rotate.stderr, /registered itself/)
    })

    it('POST /admin/clients/{id}/revoke revokes an app that registered itself, and its tokens stop at once', async () => {
      const out = await app(t.node, 'tokens')
      assert.equal(await t.callTool(out.access_token), 200)
      const r = await t.json('POST', `/admin/clients/${out.client_id}/revoke`, await t.operatorToken())
      assert.equal(r.status, 200, r.body)
      assert.equal(r.json<{ client: { status: string } }>().client.status, 'revoked')
      assert.equal(await t.callTool(out.access_token), 401)
      const refresh = await t.form('/oauth/token', { client_id: out.client_id, grant_type: 'refresh_token', refresh_token: out.refresh_token })
      assert.equal(refresh.json().error, 'invalid_client')
    })
  })

  describe('finding 12: introspection rights come from the node\'s registry, and `active` from its verifier', () => {
    it('an app that registered itself with scope mcp:admin cannot introspect another client\'s token (RFC 7662 §4)', async () => {
      const victim = await t.operatorToken()
      const pub = await t.register({ token_endpoint_auth_method: 'none', scope: 'mcp:admin' })
      assert.equal(pub.status, 201, pub.body)
      const asPublic = await t.form('/oauth/introspect', { client_id: pub.json<{ client_id: string }>().client_id, token: victim })
      assert.equal(asPublic.status, 200, asPublic.body)
      assert.deepEqual(asPublic.json(), { active: false }, 'a public self-registered app learns nothing')
      const conf = (await t.register({ token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:admin' })).json<{ client_id: string, client_secret: string }>()
      const asConfidential = await t.form('/oauth/introspect', { token: victim }, [conf.client_id, conf.client_secret])
      assert.deepEqual(asConfidential.json(), { active: false }, 'nor a confidential one')
      // The operator's own admin client still may.
      const op = operatorClient(t.node.dataDir)
      const asAdmin = await t.form('/oauth/introspect', { token: victim }, [op.client_id, op.client_secret])
      assert.equal(asAdmin.json<{ active: boolean }>().active, true)
    })

    it('an app that registered itself with scope mcp:admin cannot introspect another app\'s refresh token', async () => {
      const victim = await app(t.node, 'tokens')
      const attacker = (await t.register({ token_endpoint_auth_method: 'client_secret_basic', scope: 'mcp:admin' })).json<{ client_id: string, client_secret: string }>()
      const r = await t.form('/oauth/introspect', { token: victim.refresh_token, token_type_hint: 'refresh_token' }, [attacker.client_id, attacker.client_secret])
      assert.deepEqual(r.json(), { active: false })
      const own = await t.form('/oauth/introspect', { client_id: victim.client_id, token: victim.refresh_token })
      assert.equal(own.json<{ active: boolean }>().active, true, 'the app itself may')
    })

    it('introspection says inactive for a token of a revoked client (RFC 7662 §2.2: as the resource server would)', async () => {
      const admin = await t.operatorToken()
      const added = (await t.json('POST', '/admin/clients', admin, { name: 'to-revoke', scopes: ['mcp:read', 'mcp:call'] })).json<{ client: { client_id: string }, client_secret: string }>()
      const token = (await getToken(t.node.url, added.client.client_id, added.client_secret)).json<{ access_token: string }>().access_token
      const op = operatorClient(t.node.dataDir)
      const introspect = async (): Promise<Record<string, unknown>> => (await t.form('/oauth/introspect', { token }, [op.client_id, op.client_secret])).json()
      assert.equal((await introspect()).active, true)
      assert.equal((await t.json('POST', `/admin/clients/${added.client.client_id}/revoke`, admin)).status, 200)
      assert.equal(await t.callTool(token), 401)
      assert.deepEqual(await introspect(), { active: false })
    })

    it('introspection says inactive for an access token whose grant the operator revoked', async () => {
      const out = await app(t.node, 'tokens')
      const introspect = async (): Promise<Record<string, unknown>> => (await t.form('/oauth/introspect', { client_id: out.client_id, token: out.access_token })).json()
      assert.equal((await introspect()).active, true)
      const [grantId] = await t.grantIds(out.client_id)
      const revoke = await runCli(['grants', 'revoke', '--data-dir', t.node.dataDir, '--', grantId!])
      assert.equal(revoke.code, 0, revoke.stderr)
      assert.deepEqual(await introspect(), { active: false })
    })

    it('an app registering itself cannot make the node fetch URLs it names (jwks_uri, sector_identifier_uri): no request leaves the node', async () => {
      const connections: string[] = []
      const listener = createNetServer((socket) => { connections.push('connection'); socket.destroy() })
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
      try {
        const target = `https://127.0.0.1:${(listener.address() as { port: number }).port}`
        const sector = await t.register({ token_endpoint_auth_method: 'none', sector_identifier_uri: `${target}/sector` })
        assert.equal(sector.status, 400, sector.body)
        assert.equal(sector.json().error, 'invalid_client_metadata')
        const jwks = await t.register({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${target}/jwks` })
        assert.equal(jwks.status, 400, jwks.body)
        assert.equal(jwks.json().error, 'invalid_client_metadata')
        assert.deepEqual(connections, [], 'the node opened no connection to the URLs')
      } finally {
        listener.close()
      }
    })

    it('refuses agent_type and agent_version at self-registration: only the operator sets what the tokens say about an agent', async () => {
      const r = await t.register({ token_endpoint_auth_method: 'none', agent_type: 'claude', agent_version: '9' })
      assert.equal(r.status, 400, r.body)
      assert.equal(r.json().error, 'invalid_client_metadata')
    })
  })

  describe('finding 13: device codes are stored hashed', () => {
    it('a device code\'s stored key presented at the token endpoint is refused; the device code itself works (RFC 8628 §3.4)', async () => {
      const reg = (await t.register({
        token_endpoint_auth_method: 'none', grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: [], redirect_uris: []
      })).json<{ client_id: string }>()
      const start = await t.form('/oauth/device/auth', { client_id: reg.client_id, scope: 'mcp:read' })
      assert.equal(start.status, 200, start.body)
      const { device_code: deviceCode, user_code: userCode } = start.json<{ device_code: string, user_code: string }>()
      const approved = await app(t.node, 'approve-device', { userCode })
      assert.equal(approved.success_page, true)
      const grant = 'urn:ietf:params:oauth:grant-type:device_code'
      const storedKey = `sha256.${createHash('sha256').update(deviceCode).digest('base64url')}`
      const forged = await t.form('/oauth/token', { client_id: reg.client_id, grant_type: grant, device_code: storedKey })
      assert.equal(forged.status, 400, forged.body)
      assert.equal(forged.json().error, 'invalid_grant')
      const real = await t.form('/oauth/token', { client_id: reg.client_id, grant_type: grant, device_code: deviceCode })
      assert.equal(real.status, 200, real.body)
      assert.equal(decodePayload(real.json<{ access_token: string }>().access_token).scope, 'mcp:read')
    })
  })
})

describe('attack: a copy of the store, and a stopped node', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('holds no device code, refresh token or registration access token in clear (finding 13)', async () => {
    const dir = fleet.tempDir()
    const node = await fleet.start({ dataDir: dir, args: ['--no-p2p', '--store', `surrealkv://${join(dir, 'db')}`] })
    const t = new Target(node)
    await setOperatorPassword(node.dataDir, PASSWORD)
    const device = await app(node, 'device')
    assert.equal(await t.callTool(device.access_token), 403, 'the device\'s token is good (mcp:read only, so this call is beyond it)')
    const code = await app(node, 'tokens')
    assert.equal((await node.stop()).code, 0)
    const bytes = Buffer.concat(filesUnder(join(dir, 'db')))
    assert.ok(bytes.length > 0)
    for (const [what, secret] of [
      ['device code', device.device_code],
      ['refresh token', code.refresh_token],
      ['registration access token', code.registration_access_token],
      ['device registration access token', device.registration_access_token]
    ] as Array<[string, string]>) {
      assert.equal(typeof secret, 'string', `${what} was issued`)
      assert.equal(bytes.includes(Buffer.from(secret)), false, `${what} found in the database files`)
    }
  })

  it('edge-hive clients revoke on a stopped node revokes an app that registered itself; the node refuses its tokens when it starts (finding 3)', async () => {
    const dir = fleet.tempDir()
    const store = ['--store', `surrealkv://${join(dir, 'db')}`]
    // The same port after the restart: the issuer and the tokens' audience are URLs with it.
    const port = String(await freePort())
    let node = await fleet.start({ dataDir: dir, args: ['--no-p2p', '--port', port, ...store] })
    await setOperatorPassword(node.dataDir, PASSWORD)
    const out = await app(node, 'tokens')
    assert.equal(await new Target(node).callTool(out.access_token), 200)
    assert.equal((await node.stop()).code, 0)
    const revoked = await runCli(['clients', 'revoke', out.client_id, '--json', '--data-dir', dir, ...store])
    assert.equal(revoked.code, 0, revoked.stderr)
    assert.equal(JSON.parse(revoked.stdout).client.status, 'revoked')
    node = await fleet.start({ dataDir: dir, args: ['--no-p2p', '--port', port, ...store] })
    const t = new Target(node)
    assert.equal(await t.callTool(out.access_token), 401, 'its access token is refused after the restart')
    const refresh = await t.form('/oauth/token', { client_id: out.client_id, grant_type: 'refresh_token', refresh_token: out.refresh_token })
    assert.equal(refresh.json().error, 'invalid_client')
  })
})
