// Client ID Metadata Documents (issue 16.5): an app whose client id is the https URL of its own
// metadata, served here by the test (an HTTPS server on loopback with a certificate of its own),
// used by openid-client through the node's sign-in and consent pages.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:https'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Fleet, cleanEnv, freePort, runSetPassword, tempDir, removeDir, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { decodePayload } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const APP = fileURLToPath(new URL('../fixtures/oauth-people-client.ts', import.meta.url))
const PASSWORD = 'correct horse battery staple'

describe('OAuth Client ID Metadata Documents', () => {
  const fleet = new Fleet()
  const certDir = tempDir()
  let docs: Server
  let base: string
  let redirectUri: string
  /** Node A may fetch documents from private addresses (--client-metadata-private); B keeps the default. */
  let a: NodeProcess
  let b: NodeProcess
  const fetched: string[] = []

  /** The app, as openid-client drives it against `node` with `clientId`. */
  const app = async (node: NodeProcess, clientId: string): Promise<Record<string, any>> => {
    const { stdout } = await exec(process.execPath, [APP, 'cimd', node.url, PASSWORD, JSON.stringify({ clientId, redirectUri })], {
      env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }), timeout: 60_000
    })
    return JSON.parse(stdout) as Record<string, any>
  }
  const doc = (path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    client_id: `${base}${path}`, client_name: 'Docs App', redirect_uris: [redirectUri], grant_types: ['authorization_code'],
    response_types: ['code'], token_endpoint_auth_method: 'none', ...extra
  })

  before(async () => {
    await exec('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'
    ])
    redirectUri = `http://127.0.0.1:${await freePort()}/callback`
    docs = createServer({ key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) }, (req, res) => {
      fetched.push(req.url!)
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'max-age=300', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body))
      }
      if (req.url === '/app.json') send(200, doc('/app.json'))
      else if (req.url === '/other.json') send(200, doc('/other.json', { client_id: `${base}/app.json` }))
      else if (req.url === '/secret.json') send(200, doc('/secret.json', { token_endpoint_auth_method: 'client_secret_basic', client_secret: 'nope' }))
      else if (req.url === '/big.json') send(200, doc('/big.json', { client_name: 'x'.repeat(6000) }))
      else if (req.url === '/fetching.json') send(200, doc('/fetching.json', { sector_identifier_uri: `${base}/sector`, jwks_uri: `${base}/jwks` }))
      else if (req.url === '/moved.json') send(302, '', { location: `${base}/app.json` })
      else send(404, { error: 'not_found' })
    })
    await new Promise<void>((resolve) => docs.listen(0, '127.0.0.1', resolve))
    base = `https://127.0.0.1:${(docs.address() as { port: number }).port}`
    const env = cleanEnv({ NODE_EXTRA_CA_CERTS: join(certDir, 'cert.pem') })
    a = await fleet.start({ args: ['--no-p2p', '--client-metadata-private'], env })
    b = await fleet.start({ args: ['--no-p2p'], env })
    for (const n of [a, b]) assert.equal((await runSetPassword(n.dataDir, PASSWORD)).code, 0)
  })
  after(async () => {
    await fleet.cleanup()
    docs?.close()
    removeDir(certDir)
  })

  it('says it supports them (RFC 8414 metadata)', async () => {
    const m = (await request1(`${a.url}/.well-known/oauth-authorization-server`, { ca: readFileSync(join(a.dataDir, 'tls', 'cert.pem'), 'utf8') })).json<Record<string, unknown>>()
    assert.equal(m.client_id_metadata_document_supported, true)
  })

  it('takes an app by its document: sign-in, consent naming the document\'s host, a token for the URL client id', async () => {
    const out = await app(a, `${base}/app.json`)
    assert.equal(out.failure, undefined, `${out.failure} ${out.error_description ?? ''} ${out.page ?? ''}`)
    assert.equal(out.cimd_supported, true)
    assert.equal(out.consent_origin, new URL(base).host, 'the consent page says where the app\'s description comes from')
    const claims = decodePayload(out.access_token)
    assert.equal(claims.client_id, `${base}/app.json`)
    assert.equal(claims.scope, 'mcp:read mcp:call')
    assert.equal(claims.aud, a.ready.mcp_url)
  })

  it('fetches a document once while it is fresh (its max-age)', async () => {
    const before = fetched.filter((u) => u === '/app.json').length
    const out = await app(a, `${base}/app.json`)
    assert.equal(out.failure, undefined, String(out.failure))
    assert.equal(fetched.filter((u) => u === '/app.json').length, before, 'served from the node\'s cache')
  })

  it('refuses a document on a private address unless the operator allows it', async () => {
    const n = fetched.length
    const out = await app(b, `${base}/app.json`)
    assert.equal(out.access_token, undefined)
    assert.match(String(out.page ?? out.failure), /Error invalid_client : client_id metadata document fetch failed/)
    assert.equal(fetched.length, n, 'the node never reached the address')
  })

  const FETCH_FAILED = /Error invalid_client : client_id metadata document fetch failed/
  for (const [path, why, said] of [
    ['/other.json', 'names another client id', /Error invalid_client_metadata : client_id metadata document client_id does not match/],
    ['/secret.json', 'carries a shared secret', /Error invalid_client_metadata : .*shared-secret/],
    ['/fetching.json', 'names URLs for the node to fetch', /Error invalid_client_metadata : (jwks_uri|sector_identifier_uri) is not accepted: this node fetches no URL a client names/],
    ['/big.json', 'is over 5 KiB', FETCH_FAILED],
    ['/moved.json', 'redirects', FETCH_FAILED],
    ['/missing.json', 'is not there', FETCH_FAILED]
  ] as const) {
    it(`refuses a document that ${why}, with no token and a page that says so`, async () => {
      const out = await app(a, `${base}${path}`)
      assert.equal(out.access_token, undefined)
      assert.equal(out.consent_origin, undefined, 'no consent page was shown')
      assert.match(String(out.page ?? out.failure), said)
      assert.ok(!fetched.includes('/sector') && !fetched.includes('/jwks'), 'nothing a document names is fetched')
    })
  }

  it('refuses a redirect URI the document does not name exactly', async () => {
    const { stdout } = await exec(process.execPath, [APP, 'cimd', a.url, PASSWORD, JSON.stringify({ clientId: `${base}/app.json`, redirectUri: `${redirectUri}/elsewhere` })], {
      env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(a.dataDir, 'tls', 'cert.pem') }), timeout: 60_000
    })
    const out = JSON.parse(stdout) as Record<string, any>
    assert.equal(out.access_token, undefined)
    assert.match(String(out.page ?? out.failure), /Error invalid_redirect_uri/)
  })
})
