import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, Fleet, cleanEnv, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { request1, request2 } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'

const exec = promisify(execFile)

describe('edge-hive serve over HTTPS', () => {
  let node: NodeProcess
  let ca: string
  const fleet = new Fleet()

  before(async () => {
    node = await fleet.start({ args: ['--name', 'test-node'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
  })
  after(async () => { await fleet.cleanup() })

  it('answers /healthz and /readyz with JSON', async () => {
    const health = await request1(`${node.url}/healthz`, { ca })
    assert.equal(health.status, 200)
    assert.deepEqual(health.json(), { status: 'ok' })
    const ready = await request1(`${node.url}/readyz`, { ca })
    assert.equal(ready.status, 200)
    assert.deepEqual(ready.json(), { status: 'ready' })
  })

  it('serves the info document for its own node id and at /mcp/node/info', async () => {
    const byId = await request1(`${node.url}/mcp/node/${node.ready.node_id}/info`, { ca })
    assert.equal(byId.status, 200)
    const info = byId.json<Record<string, any>>()
    assert.equal(info.node_id, node.ready.node_id)
    assert.match(info.node_id, /^[a-z]+-[a-z]+-[0-9a-f]{6}$/)
    assert.match(info.peer_id, /^12D3KooW/)
    assert.equal(info.name, 'test-node')
    assert.equal(info.platform, `${process.platform}-${process.arch}`)
    assert.equal(typeof info.uptime, 'number')
    for (const k of ['cpu', 'memory']) {
      assert.ok(info.load[k] >= 0 && info.load[k] <= 100, `load.${k} is a percentage`)
    }
    assert.equal(info.capabilities.mcp.https_endpoint, `${node.ready.url}/mcp`)
    assert.ok(Array.isArray(info.capabilities.mcp.supported_tools))
    assert.ok(Array.isArray(info.capabilities.mcp.supported_resources))
    assert.ok(Array.isArray(info.capabilities.p2p.listen_addrs))
    assert.equal(info.metadata.name, 'test-node')
    assert.equal(typeof info.authentication.oauth2_enabled, 'boolean')
    const plain = await request1(`${node.url}/mcp/node/info`, { ca })
    assert.equal(plain.json<{ node_id: string }>().node_id, node.ready.node_id)
  })

  it('answers another node id only to a token (who is in a hive is not public), then 404 unknown_node for one that is no member', async () => {
    const anonymous = await request1(`${node.url}/mcp/node/brave-otter-000000/info`, { ca })
    assert.equal(anonymous.status, 401)
    const op = operatorClient(node.dataDir)
    const token = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const res = await request1(`${node.url}/mcp/node/brave-otter-000000/info`, { ca, headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 404)
    assert.equal(res.json().error, 'unknown_node')
    assert.equal(typeof res.json().message, 'string')
  })

  it('answers unknown routes with 404 JSON and wrong methods with 405 and Allow', async () => {
    const missing = await request1(`${node.url}/nope`, { ca })
    assert.equal(missing.status, 404)
    assert.equal(missing.json().error, 'not_found')
    const wrong = await request1(`${node.url}/healthz`, { ca, method: 'DELETE' })
    assert.equal(wrong.status, 405)
    assert.equal(wrong.json().error, 'method_not_allowed')
    assert.match(String(wrong.headers.allow), /GET/)
  })

  it('presents a certificate valid for 127.0.0.1 and localhost, verified against the kept PEM', async () => {
    const viaIp = await request1(`${node.url}/healthz`, { ca })
    assert.equal(viaIp.status, 200)
    const port = new URL(node.url).port
    const viaName = await request1(`https://localhost:${port}/healthz`, { ca, tls: { family: 4 } })
    assert.equal(viaName.status, 200)
  })

  it('speaks TLS 1.3 only: a TLS 1.2-only client is refused', async () => {
    const ok = await request1(`${node.url}/healthz`, { ca })
    assert.equal(ok.tlsVersion, 'TLSv1.3')
    await assert.rejects(request1(`${node.url}/healthz`, { ca, tls: { maxVersion: 'TLSv1.2' } }), /protocol version|alert|handshake/i)
    // curl, a client we did not write, agrees.
    const curl = await exec('curl', ['-sS', '--cacert', join(node.dataDir, 'tls', 'cert.pem'), '--tlsv1.2', '--tls-max', '1.2', `${node.url}/healthz`]).then(() => 0, (e: { code: number }) => e.code)
    assert.notEqual(curl, 0, 'curl limited to TLS 1.2 must fail')
  })

  it('serves HTTP/2 via ALPN and falls back to HTTP/1.1', async () => {
    const h2 = await request2(`${node.url}/healthz`, { ca })
    assert.equal(h2.status, 200)
    assert.equal(h2.protocol, 'h2')
    const h1 = await request1(`${node.url}/healthz`, { ca })
    assert.equal(h1.protocol, 'http/1.1')
    const { stdout } = await exec('curl', ['-sS', '--http2', '--cacert', join(node.dataDir, 'tls', 'cert.pem'), '-o', '/dev/null', '-w', '%{http_version}', `${node.url}/healthz`])
    assert.equal(stdout, '2')
  })

  it('returns an X-Request-Id and security headers', async () => {
    const res = await request1(`${node.url}/healthz`, { ca })
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    assert.match(String(res.headers['strict-transport-security']), /max-age=/)
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
  })

  it('publishes MCP Server Cards and the MCP Catalog (experimental server-card extension; issue 16)', async () => {
    const catalog = await request1(`${node.url}/.well-known/mcp/catalog.json`, { ca })
    assert.equal(catalog.status, 200)
    assert.equal(catalog.headers['access-control-allow-origin'], '*', 'discovery documents are readable from any origin')
    const { specVersion, entries } = catalog.json<{ specVersion: string, entries: Array<{ identifier: string, displayName: string, type: string, url: string }> }>()
    assert.equal(specVersion, 'draft')
    assert.deepEqual(entries.map((e) => e.url), [`${node.ready.mcp_url}/server-card`, `${node.ready.mcp_url}/hive/server-card`])
    for (const e of entries) {
      assert.equal(e.type, 'application/mcp-server-card+json')
      assert.match(e.identifier, /^urn:air:/)
      const res = await request1(e.url, { ca, headers: { accept: 'application/mcp-server-card+json' } })
      assert.equal(res.status, 200)
      assert.match(String(res.headers['content-type']), /^application\/mcp-server-card\+json/)
      const card = res.json<{
        $schema: string
        name: string
        version: string
        title: string
        description: string
        remotes: Array<{ type: string, url: string, supportedProtocolVersions: string[] }>
      }>()
      // The card schema's own rules (v2): name pattern, text lengths, a streamable-http remote.
      assert.equal(card.$schema, 'https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json')
      assert.match(card.name, /^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/)
      assert.ok(card.name.length <= 200 && card.title.length <= 100 && card.description.length >= 1 && card.description.length <= 100)
      assert.equal(card.version, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
      assert.equal(card.remotes[0]!.type, 'streamable-http')
      assert.equal(`${card.remotes[0]!.url}/server-card`, e.url, 'the card names the endpoint it is served under')
      assert.ok(card.remotes[0]!.supportedProtocolVersions.includes('2025-11-25') && card.remotes[0]!.supportedProtocolVersions.includes('2026-07-28'))
    }
  })

  it('says in its log what happened when a client speaks plain HTTP to the HTTPS port (issue 16)', async () => {
    await assert.rejects(fetch(node.url.replace(/^https:/, 'http:') + '/healthz'), 'no HTTP answer comes from a TLS port')
    const said = await eventually(() => node.logs.filter((l) => /plain HTTP to the HTTPS port/.test(String(l.msg))), (l) => l.length > 0, 10_000)
    assert.equal(said.length, 1, JSON.stringify(node.logs.slice(-5)))
    assert.equal(said[0]!.level, 40, 'a warning')
  })

  it('keeps secrets in 0600 files inside a 0700 data dir', () => {
    assert.equal(statSync(node.dataDir).mode & 0o777, 0o700)
    assert.equal(statSync(join(node.dataDir, 'identity.key')).mode & 0o777, 0o600)
    assert.equal(statSync(join(node.dataDir, 'tls', 'key.pem')).mode & 0o777, 0o600)
    assert.equal(statSync(join(node.dataDir, 'node.lock')).mode & 0o777, 0o600)
  })
})

// Issue 16: `npm start` in a terminal showed the first credentials once and kept them nowhere, so
// the README's snippet that reads operator-client.json failed. A real terminal here is script(1)'s.
describe('edge-hive serve in a terminal, first start', { skip: existsSync('/usr/bin/script') ? false : 'script(1) is missing: apt-get install bsdutils' }, () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('shows the operator client in the banner and keeps it in operator-client.json (0600)', async () => {
    const dir = fleet.tempDir()
    const cmd = [process.execPath, CLI, 'serve', '--data-dir', dir, '--port', '0', '--store', 'mem://', '--no-p2p', '--metrics-port', '0'].map((a) => `'${a}'`).join(' ')
    // Its own process group, so the node under script(1) goes with it whatever happens.
    const child = spawn('/usr/bin/script', ['-qfec', cmd, '/dev/null'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    try {
      const seen = await eventually(async () => out, (o) => /client secret\s+\S+/.test(o) && existsSync(join(dir, 'operator-client.json')), 60_000, 200)
      const secret = /client secret\s+(\S+)/.exec(seen)![1]
      const kept = operatorClient(dir)
      assert.equal(kept.client_secret, secret, 'the file holds what the banner showed')
      assert.match(seen, new RegExp(`Both are also in ${join(dir, 'operator-client.json').replace(/[/.]/g, '\\$&')}`))
      assert.equal(statSync(join(dir, 'operator-client.json')).mode & 0o777, 0o600)
    } finally {
      try { process.kill(-child.pid!, 'SIGKILL') } catch { /* gone */ }
    }
  })
})
