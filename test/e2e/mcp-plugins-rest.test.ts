import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect as h2connect } from 'node:http2'
import { Fleet, NodeProcess, cleanEnv, removeDir, runCli, tempDir } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const PLUGIN = fileURLToPath(new URL('../fixtures/plugins/sensor.mjs', import.meta.url))
const BROKEN = fileURLToPath(new URL('../fixtures/plugins/broken.mjs', import.meta.url))
const CLIENT = fileURLToPath(new URL('../fixtures/mcp-plugin-client.ts', import.meta.url))

describe('plugins and the seed REST routes', () => {
  let node: NodeProcess
  let ca: string
  let admin: string
  let caller: string

  const post = async (path: string, body: unknown, token = admin): Promise<Answer> => await request1(`${node.url}${path}`, {
    ca, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body)
  })
  const get = async (path: string, token = admin): Promise<Answer> => await request1(`${node.url}${path}`, { ca, headers: { authorization: `Bearer ${token}` } })

  before(async () => {
    node = await NodeProcess.start({ args: ['--plugin', PLUGIN] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    const op = operatorClient(node.dataDir)
    admin = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    caller = (await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:read mcp:call' })).json<{ access_token: string }>().access_token
  })
  after(async () => {
    await node.kill()
    removeDir(node.dataDir)
  })

  it('loads a plugin whose tools, prompt and resource MCP clients use; a throwing tool is an isError result; run-time tools send tools/list_changed', async () => {
    const { stdout } = await exec(process.execPath, [CLIENT, node.ready.mcp_url, admin], { env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }) })
    const out = JSON.parse(stdout)
    assert.deepEqual(out.before, ['broken_sensor', 'get_status', 'list_peers', 'provision_node', 'read_sensor', 'toggle_extra'])
    assert.deepEqual(out.sensor, { value: 21.5, unit: 'c' })
    assert.equal(out.broken.isError, true)
    assert.match(out.broken.content[0].text, /sensor not responding/)
    assert.deepEqual(out.prompts, ['greenhouse_report'])
    assert.equal(out.prompt[0].content.text, 'Summarise the greenhouse sensors.')
    assert.equal(out.resource[0].text, '{"interval_s":10}')
    assert.equal(out.toggle[0].text, 'added')
    assert.ok(out.after.includes('extra'))
    assert.equal(out.extra[0].text, 'extra')
    assert.ok(out.seen.includes('tools/list_changed'), 'notifications/tools/list_changed arrived')
    assert.equal(out.stillServing, false, 'the node keeps serving after a tool threw')
  })

  it('lists plugin tools in the info document', async () => {
    const info = (await request1(`${node.url}/mcp/node/info`, { ca })).json<{ capabilities: { mcp: { supported_tools: string[], supported_resources: string[] } } }>()
    assert.ok(info.capabilities.mcp.supported_tools.includes('read_sensor'))
    assert.ok(info.capabilities.mcp.supported_resources.includes('sensor://config'))
    assert.ok(info.capabilities.mcp.supported_resources.includes('edge-hive://logs/{date}'))
  })

  it('calls a tool through POST /mcp/tools/call and /mcp/node/{node_id}/tools/call with the same result as MCP', async () => {
    for (const path of ['/mcp/tools/call', `/mcp/node/${node.ready.node_id}/tools/call`]) {
      const res = await post(path, { name: 'read_sensor', arguments: { unit: 'f' } }, caller)
      assert.equal(res.status, 200, res.body)
      assert.deepEqual(res.json().structuredContent, { value: 70.7, unit: 'f' })
    }
    const status = await post('/mcp/tools/call', { name: 'get_status' }, caller)
    assert.equal(status.json<{ structuredContent: { node_id: string } }>().structuredContent.node_id, node.ready.node_id)
    const broken = await post('/mcp/tools/call', { name: 'broken_sensor' }, caller)
    assert.equal(broken.status, 200)
    assert.equal(broken.json().isError, true)
  })

  it('refuses over REST as over MCP: scope (403), unknown tool (404), bad arguments (400), other node (404), no token (401)', async () => {
    const scope = await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'x', scopes: ['mcp:read'] } }, caller)
    assert.equal(scope.status, 403)
    assert.equal(scope.json().error, 'insufficient_scope')
    assert.match(String(scope.headers['www-authenticate']), /scope="mcp:admin"/)
    assert.equal((await post('/mcp/tools/call', { name: 'nope' }, caller)).json().error, 'unknown_tool')
    const bad = await post('/mcp/tools/call', { name: 'read_sensor', arguments: { unit: 'kelvin' } }, caller)
    assert.equal(bad.status, 400)
    assert.equal(bad.json().error, 'invalid_arguments')
    const other = await post('/mcp/node/brave-otter-000000/tools/call', { name: 'get_status' }, caller)
    assert.equal(other.status, 404)
    assert.equal(other.json().error, 'unknown_node')
    const none = await request1(`${node.url}/mcp/tools/call`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"get_status"}' })
    assert.equal(none.status, 401)
  })

  it('provision_node: dry_run makes nothing; a real run returns a working secret; no scope beyond the caller\'s; other nodes refused', async () => {
    const op = operatorClient(node.dataDir)
    const adminRead = (await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:admin mcp:read' })).json<{ access_token: string }>().access_token
    const countClients = async (): Promise<number> => (await get('/admin/clients')).json<{ clients: unknown[] }>().clients.length
    const before = await countClients()
    const dry = await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'planned', scopes: ['mcp:read'], dry_run: true } }, adminRead)
    assert.deepEqual(
      dry.json<{ structuredContent: Record<string, unknown> }>().structuredContent.would_create,
      { node_id: node.ready.node_id, name: 'planned', scopes: ['mcp:read'], agent_type: null }
    )
    assert.equal(await countClients(), before, 'a dry run creates nothing')
    const beyond = await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'greedy', scopes: ['mcp:read', 'mcp:call'] } }, adminRead)
    assert.equal(beyond.json().isError, true)
    assert.match(String(beyond.json<{ content: Array<{ text: string }> }>().content[0]!.text), /cannot grant mcp:call/)
    const elsewhere = await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'x', scopes: ['mcp:read'], node_id: 'brave-otter-000000' } }, adminRead)
    assert.equal(elsewhere.json().isError, true)
    assert.equal(await countClients(), before, 'refusals create nothing')
    const made = await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'sensor-agent', scopes: ['mcp:read'], agent_type: 'claude' } }, adminRead)
    const out = made.json<{ structuredContent: { client_id: string, client_secret: string, token_endpoint: string } }>().structuredContent
    assert.equal(out.token_endpoint, `${node.ready.url}/oauth/token`)
    const token = await getToken(node.url, out.client_id, out.client_secret)
    assert.equal(token.status, 200)
    assert.equal(token.json().scope, 'mcp:read')
  })

  it('reads a resource through GET /mcp/node/{node_id}/resources/{uri}, needing mcp:resources', async () => {
    const id = node.ready.node_id
    const cfg = await get(`/mcp/node/${id}/resources/${encodeURIComponent('sensor://config')}`)
    assert.equal(cfg.status, 200)
    assert.deepEqual(cfg.json(), { interval_s: 10 })
    const info = await get(`/mcp/node/${id}/resources/${encodeURIComponent('edge-hive://node/info')}`)
    assert.equal(info.json<{ node_id: string }>().node_id, id)
    const today = new Date().toISOString().slice(0, 10)
    const log = await get(`/mcp/node/${id}/resources/${encodeURIComponent(`edge-hive://logs/${today}`)}`)
    assert.equal(log.status, 200)
    const lines = log.body.trim().split('\n').map((l) => JSON.parse(l) as { action: string })
    assert.ok(lines.some((l) => l.action === 'node.started'))
    assert.equal((await get(`/mcp/node/${id}/resources/${encodeURIComponent('sensor://nothing')}`)).status, 404)
    const denied = await get(`/mcp/node/${id}/resources/${encodeURIComponent('sensor://config')}`, caller)
    assert.equal(denied.status, 403)
  })

  it('streams notifications over SSE with event ids, and resumes from Last-Event-ID', async () => {
    const session = h2connect(node.url, { ca })
    const events: Array<{ id: number, event: string, data: Record<string, unknown> }> = []
    const open = (lastId?: number): Promise<() => void> => new Promise((resolve, reject) => {
      const req = session.request({ ':path': `/mcp/node/${node.ready.node_id}/stream`, authorization: `Bearer ${admin}`, ...(lastId === undefined ? {} : { 'last-event-id': String(lastId) }) })
      let buf = ''
      req.setEncoding('utf8')
      req.on('response', (h) => { if (h[':status'] !== 200) reject(new Error(`status ${h[':status']}`)); else resolve(() => req.close()) })
      req.on('data', (chunk: string) => {
        buf += chunk
        let end: number
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const f = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]))
          if (f.id !== undefined) events.push({ id: Number(f.id), event: f.event!, data: JSON.parse(f.data!) })
        }
      })
      req.on('error', () => undefined)
    })
    const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
    try {
      const close = await open()
      await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'streamed-1', scopes: ['mcp:read'] } })
      await sleep(300)
      const firstLog = events.find((e) => e.event === 'log' && (e.data.detail as { name?: string } | undefined)?.name === 'streamed-1')
      assert.ok(firstLog, 'the audit entry arrived as a log event')
      assert.ok(events.some((e) => e.event === 'resource_updated' && e.data.uri === 'edge-hive://logs/latest'))
      const lastSeen = Math.max(...events.map((e) => e.id))
      close()
      await sleep(100)
      // Missed while disconnected:
      await post('/mcp/tools/call', { name: 'provision_node', arguments: { name: 'streamed-2', scopes: ['mcp:read'] } })
      events.length = 0
      const close2 = await open(lastSeen)
      await sleep(300)
      close2()
      const replayed = events.filter((e) => e.event === 'log' && (e.data.detail as { name?: string } | undefined)?.name === 'streamed-2')
      assert.equal(replayed.length, 1, 'the missed entry is replayed once')
      assert.ok(events.every((e) => e.id > lastSeen), 'nothing seen before is sent again')
    } finally {
      session.destroy()
    }
  })
})

describe('the REST face without MCP (--no-mcp)', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('has no /mcp, but the SSE stream still reports log entries and log resource updates', async () => {
    const node = await fleet.start({ args: ['--no-mcp'] })
    const ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    const op = operatorClient(node.dataDir)
    const token = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const mcp = await request1(`${node.url}/mcp`, { ca, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(mcp.status, 404)
    const session = h2connect(node.url, { ca })
    try {
      const events: string[] = []
      const req = session.request({ ':path': `/mcp/node/${node.ready.node_id}/stream`, authorization: `Bearer ${token}` })
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => { for (const m of chunk.matchAll(/^event: (\S+)$/gm)) events.push(m[1]!) })
      req.on('error', () => undefined)
      await new Promise((resolve) => req.once('response', resolve))
      // A token request is audited.
      await getToken(node.url, op.client_id, op.client_secret)
      const deadline = Date.now() + 3000
      while (!(events.includes('log') && events.includes('resource_updated')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.ok(events.includes('log'), `saw ${JSON.stringify(events)}`)
      assert.ok(events.includes('resource_updated'), `saw ${JSON.stringify(events)}`)
    } finally {
      session.destroy()
    }
  })
})

describe('plugins that fail', () => {
  const dirs: string[] = []
  after(() => { for (const d of dirs) removeDir(d) })
  const dir = (): string => { const d = tempDir(); dirs.push(d); return d }

  it('a plugin that throws in register() stops the start, naming the module and the reason', async () => {
    const r = await runCli(['serve', '--port', '0', '--store', 'mem://', '--data-dir', dir(), '--plugin', BROKEN])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /plugin .*broken\.mjs failed in register\(\): the sensor bus is missing/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  })

  it('a plugin that cannot be found stops the start', async () => {
    const r = await runCli(['serve', '--port', '0', '--store', 'mem://', '--data-dir', dir(), '--plugin', './no/such/plugin.mjs'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /plugin \.\/no\/such\/plugin\.mjs could not be loaded/)
  })
})
