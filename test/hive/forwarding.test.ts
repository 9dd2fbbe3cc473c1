import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI, Fleet, cleanEnv, diesWithParent, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
const CLIENT_HIVE = fixture('mcp-client-hive.ts')
const CLIENT_V1 = fixture('mcp-client-v1.ts')
const ROGUE = fixture('hive-rogue-peer.ts')
const CLIENT_VIEW = fixture('mcp-client-hive-view.ts')
const viewName = (node: NodeProcess, tool: string): string => `${node.ready.node_id.replace(/-/g, '_')}__${tool}`

interface Entry { actor: string, action: string, target?: string, outcome: string, detail?: Record<string, unknown> }
interface OtlpSpan { traceId: string, spanId: string, parentSpanId?: string, name: string, kind: number, attributes: Array<{ key: string, value: { stringValue?: string } }> }
interface Exported { node: string, span: OtlpSpan }

/** An OTLP/HTTP trace receiver (JSON, as the exporter sends it) on loopback: keeps every span with the node that sent it. */
function otlpReceiver (): { server: Server, spans: Exported[] } {
  const spans: Exported[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      try {
        const doc = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }, scopeSpans: Array<{ spans: OtlpSpan[] }> }> }
        for (const rs of doc.resourceSpans) {
          const node = rs.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue ?? '?'
          for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ node, span })
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      } catch { res.writeHead(400).end() }
    })
  })
  return { server, spans }
}

// A hive of three on loopback (no multicast: the members join through --bootstrap with an
// invitation): A, the founder and the agent's only door; B, which lets hive callers use
// mcp:read and mcp:call and holds at most 8 MCP sessions (so 2 per member); C, which keeps the default (mcp:read). The agent holds tokens of A only.
describe('one door: an agent reaches every member\'s tools through any node', () => {
  const fleet = new Fleet()
  const otlp = otlpReceiver()
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let opToken: string
  let readToken: string
  let readClient: { client_id: string, client_secret: string }

  const cli = async (node: NodeProcess, args: string[]): Promise<string> =>
    (await exec(process.execPath, [CLI, ...args, '--data-dir', node.dataDir], { env: cleanEnv(), timeout: 30_000 })).stdout
  const ca = (node: NodeProcess): string => readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
  const viaA = async (path: string, token: string | undefined, init: { method?: string, body?: unknown, headers?: Record<string, string> } = {}): Promise<Answer> =>
    await request1(`${a.url}${path}`, {
      ca: ca(a),
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    })
  const client = async (file: string, args: string[]): Promise<Record<string, any>> =>
    JSON.parse((await exec(process.execPath, [file, ...args], { env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(a.dataDir, 'tls', 'cert.pem') }), timeout: 60_000 })).stdout) as Record<string, any>
  /** A node's latest audit entries, read as its operator reads them (the logs resource, with its own token). */
  const audit = async (node: NodeProcess): Promise<Entry[]> => {
    const op = operatorClient(node.dataDir)
    const token = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const r = await request1(`${node.url}/mcp/node/${node.ready.node_id}/resources/${encodeURIComponent('edge-hive://logs/latest')}`, { ca: ca(node), headers: { authorization: `Bearer ${token}` } })
    return r.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Entry)
  }
  const memberOnline = async (from: NodeProcess, other: NodeProcess): Promise<boolean> => {
    const m = JSON.parse(await cli(from, ['hive', 'members', '--json'])) as { members: Array<{ peer_id: string, status: string }> }
    return m.members.some((x) => x.peer_id === other.ready.peer_id && x.status === 'online')
  }
  const start = async (name: string, args: string[], env: Record<string, string> = {}): Promise<NodeProcess> =>
    await fleet.start({ args: ['--name', name, '--peer-offline-after', '5s', '--otel-endpoint', `http://127.0.0.1:${(otlp.server.address() as AddressInfo).port}`, ...args], env: cleanEnv(env) })

  before(async () => {
    await new Promise<void>((resolve) => otlp.server.listen(0, '127.0.0.1', resolve))
    a = await start('member-a', [])
    await cli(a, ['hive', 'init'])
    const invite = async (): Promise<string> => (JSON.parse(await cli(a, ['hive', 'invite', '--json'])) as { token: string }).token
    const bootstrap = ['--bootstrap', a.ready.p2p_addrs[0]!]
    ;[b, c] = await Promise.all([
      start('member-b', [...bootstrap, '--hive-scopes', 'mcp:read,mcp:call', '--mcp-max-sessions', '8'], { EDGE_HIVE_JOIN_TOKEN: await invite() }),
      start('member-c', bootstrap, { EDGE_HIVE_JOIN_TOKEN: await invite() })
    ])
    await eventually(async () => await memberOnline(a, b) && await memberOnline(a, c), (ok) => ok, 30_000, 250)
    const op = operatorClient(a.dataDir)
    opToken = (await getToken(a.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const added = JSON.parse(await cli(a, ['clients', 'add', '--name', 'reader', '--scopes', 'mcp:read', '--json'])) as { client: { client_id: string }, client_secret: string }
    readClient = { client_id: added.client.client_id, client_secret: added.client_secret }
    readToken = (await getToken(a.url, readClient.client_id, readClient.client_secret)).json<{ access_token: string }>().access_token
  })
  after(async () => {
    await fleet.cleanup()
    otlp.server.close()
  })

  for (const mode of ['legacy', 'auto'] as const) {
    it(`the official SDK v2 client (${mode === 'legacy' ? '2025-11-25 session' : '2026-07-28 stateless'}) uses B's tools through A, under B's policy`, async () => {
      const out = await client(CLIENT_HIVE, [`${a.url}/mcp/node/${b.ready.node_id}/mcp`, opToken, mode])
      assert.equal(out.error, undefined, `connected: ${String(out.error)}`)
      assert.equal(out.era, mode === 'legacy' ? 'legacy' : 'modern')
      if (mode === 'legacy') assert.match(String(out.session), /^[0-9a-f-]{36}$/, 'a session id from B crosses the hop')
      assert.match(String(out.instructions), new RegExp(b.ready.node_id), 'B answered, not A')
      assert.ok((out.tools as string[]).includes('get_status'))
      assert.ok(!(out.tools as string[]).includes('provision_node'), 'an admin tool is not offered across the hive')
      assert.equal(out.status.node_id, b.ready.node_id, 'get_status ran on B')
      assert.match(String(out.resource), /^error:.*mcp:resources/, 'B grants hive callers no mcp:resources, though the token has it')
      assert.match(String(out.admin), /^error:.*mcp:admin/, 'the admin tool is refused for want of mcp:admin, which the token has but which does not cross')
      assert.equal(out.again, (out.tools as string[]).length)
    })
  }

  it('the SDK v1 client finds A\'s authorization server from the 401 of a member\'s endpoint, and calls B', async () => {
    const op = operatorClient(a.dataDir)
    const out = await client(CLIENT_V1, [`${a.url}/mcp/node/${b.ready.node_id}/mcp`, op.client_id, op.client_secret, a.ready.url])
    assert.equal(out.error, undefined, `connected: ${String(out.error)}; requests ${JSON.stringify(out.requests)}`)
    assert.ok((out.tools as string[]).includes('get_status'))
    assert.equal(out.status.node_id, b.ready.node_id, 'get_status ran on B')
  })

  it('a member holds at most a quarter of its sessions for the callers of any one other member, whatever client ids they bring: the oldest idle one makes room', async () => {
    const initialize = async (token: string): Promise<Answer> => await viaA(`/mcp/node/${b.ready.node_id}/mcp`, token, {
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'quota-test', version: '1' } } },
      headers: { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' }
    })
    const ping = async (token: string, session: string): Promise<number> => (await viaA(`/mcp/node/${b.ready.node_id}/mcp`, token, {
      body: { jsonrpc: '2.0', id: 2, method: 'ping' }, headers: { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': session }
    })).status
    const opened: Array<{ token: string, session: string }> = []
    try {
      // Two clients of A: B counts both against A (8 sessions, a quarter each member).
      for (const token of [opToken, readToken, opToken]) {
        const r = await initialize(token)
        assert.equal(r.status, 200, r.body)
        opened.push({ token, session: String(r.headers['mcp-session-id']) })
      }
      assert.equal(await ping(opened[0]!.token, opened[0]!.session), 404, 'the oldest idle session of A\'s callers made room for the third')
      assert.equal(await ping(opened[1]!.token, opened[1]!.session), 200)
      assert.equal(await ping(opened[2]!.token, opened[2]!.session), 200)
    } finally {
      for (const o of opened) await viaA(`/mcp/node/${b.ready.node_id}/mcp`, o.token, { method: 'DELETE', headers: { 'mcp-session-id': o.session, 'mcp-protocol-version': '2025-11-25' } })
    }
  })

  it('a member that grants only mcp:read refuses a tool call with a message naming its policy, not an OAuth challenge', async () => {
    const rpc = await viaA(`/mcp/node/${c.ready.node_id}/mcp`, opToken, {
      body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_status', arguments: {} } },
      headers: { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'get_status' }
    })
    assert.equal(rpc.status, 403)
    assert.equal(rpc.headers['www-authenticate'], undefined, 'the caller cannot step up out of a member\'s policy')
    assert.match(rpc.json<{ error: { message: string } }>().error.message, /lets callers from the hive use at most mcp:read.*mcp:call/)
    const rest = await viaA(`/mcp/node/${c.ready.node_id}/tools/call`, opToken, { body: { name: 'get_status' } })
    assert.equal(rest.status, 403)
    assert.equal(rest.json<{ error: string }>().error, 'hive_policy')
  })

  it('a token without the scope a member\'s tool needs gets A\'s OAuth 403 challenge for it', async () => {
    const rest = await viaA(`/mcp/node/${b.ready.node_id}/tools/call`, readToken, { body: { name: 'get_status' } })
    assert.equal(rest.status, 403)
    assert.match(String(rest.headers['www-authenticate']), /error="insufficient_scope".*scope="mcp:call"/)
    assert.match(String(rest.headers['www-authenticate']), new RegExp(`resource_metadata="${a.ready.url}/`), 'the challenge names A, the node that issued the token')
  })

  it('mcp:admin never crosses the hive, even with a token that carries it', async () => {
    const rest = await viaA(`/mcp/node/${b.ready.node_id}/tools/call`, opToken, { body: { name: 'provision_node', arguments: { name: 'x', scopes: ['mcp:read'] } } })
    assert.equal(rest.status, 403)
    assert.match(rest.json<{ message: string }>().message, /never crosses the hive/)
  })

  it('the seed\'s REST routes answer for a member: tools/call and info (info of another member only with a token)', async () => {
    const call = await viaA(`/mcp/node/${b.ready.node_id}/tools/call`, opToken, { body: { name: 'get_status' } })
    assert.equal(call.status, 200)
    assert.equal(call.json<{ structuredContent: { node_id: string } }>().structuredContent.node_id, b.ready.node_id)
    const info = await viaA(`/mcp/node/${c.ready.node_id}/info`, readToken)
    assert.equal(info.status, 200)
    assert.equal(info.json<{ node_id: string }>().node_id, c.ready.node_id)
    assert.equal((await viaA(`/mcp/node/${c.ready.node_id}/info`, undefined)).status, 401)
    assert.equal((await viaA(`/mcp/node/${a.ready.node_id}/info`, undefined)).status, 200, 'a node\'s own document stays public')
  })

  it('a node id that is no member is 404, on the MCP endpoint and the REST routes', async () => {
    const mcp = await viaA('/mcp/node/no-such-node1/mcp', opToken, { body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers: { accept: 'application/json, text/event-stream' } })
    assert.equal(mcp.status, 404)
    assert.match(mcp.json<{ error: { message: string } }>().error.message, /No member/)
    assert.equal((await viaA('/mcp/node/no-such-node1/tools/call', opToken, { body: { name: 'get_status' } })).status, 404)
  })

  it('a peer that has not proven membership is refused on the forward protocol before anything runs', async () => {
    const before = (await audit(a)).filter((e) => e.action === 'hive.call').length
    const out = JSON.parse((await exec(process.execPath, [ROGUE, 'forward', a.ready.p2p_addrs[0]!, 'get_status'], { env: cleanEnv(), timeout: 60_000 })).stdout) as { answer: { refused?: string } }
    assert.equal(out.answer.refused, 'not_member')
    assert.equal((await audit(a)).filter((e) => e.action === 'hive.call').length, before, 'nothing was served')
  })

  it('both nodes audit a forwarded call: who, through which member, with which scopes, how it ended', async () => {
    const op = operatorClient(a.dataDir).client_id
    assert.equal((await viaA(`/mcp/node/${b.ready.node_id}/tools/call`, opToken, { body: { name: 'list_peers' } })).status, 200)
    const isSent = (e: Entry): boolean => e.action === 'hive.forward' && e.actor === op && e.detail?.target === 'tool'
    const sent = (await eventually(async () => await audit(a), (l) => l.some(isSent), 10_000, 250)).find(isSent)!
    assert.equal(sent.target, b.ready.node_id)
    assert.equal(sent.outcome, 'success')
    assert.equal(sent.detail?.status, 200)
    const isServed = (e: Entry): boolean => e.action === 'hive.call' && e.actor === `${op}@${a.ready.node_id}` && e.detail?.target === 'tool'
    const served = (await eventually(async () => await audit(b), (l) => l.some(isServed), 10_000, 250)).find(isServed)!
    assert.equal(served.detail?.via, a.ready.node_id)
    assert.equal(served.detail?.via_peer, a.ready.peer_id)
    assert.deepEqual(served.detail?.scopes, ['mcp:read', 'mcp:call'], 'the token\'s scopes as B\'s policy cuts them: no mcp:resources, no mcp:admin')
    assert.equal(served.outcome, 'success')
    assert.equal(served.detail?.status, 200)
  })

  for (const mode of ['legacy', 'auto'] as const) {
    it(`the hive view (${mode === 'legacy' ? '2025-11-25' : '2026-07-28'}) lists every member's tools under stable names, runs them on the member, and finds members by tool`, async () => {
      const out = await client(CLIENT_VIEW, [`${a.url}/mcp/hive`, opToken, mode, b.ready.node_id, 'list'])
      assert.equal(out.error, undefined, String(out.error))
      const tools = out.tools as string[]
      for (const name of ['hive_members', viewName(a, 'get_status'), viewName(a, 'provision_node'), viewName(b, 'get_status'), viewName(b, 'list_peers')]) {
        assert.ok(tools.includes(name), `${name} in ${tools.join(' ')}`)
      }
      assert.ok(!tools.some((t) => t.startsWith(viewName(c, ''))), 'C grants hive callers mcp:read only, and its tools need mcp:call: it lists none to them')
      assert.ok(!tools.includes(viewName(b, 'provision_node')), 'another member\'s admin tool is not offered')
      assert.ok(tools.every((t) => /^[A-Za-z0-9_.-]{1,64}$/.test(t)), 'every name is valid everywhere')
      assert.equal(out.status.node_id, b.ready.node_id, 'the view ran get_status on B')
      const found = (out.found as { members: Array<{ node_id: string, tools: Array<{ name: string }> }> }).members
      assert.deepEqual(new Set(found.map((m) => m.node_id)), new Set([a, b, c].map((n) => n.ready.node_id)))
      assert.ok(found.find((m) => m.node_id === b.ready.node_id)!.tools.some((t) => t.name === viewName(b, 'get_status')))
    })
  }

  it('a call through the hive is one trace: the agent\'s context, A\'s span for the request and for the hop, B\'s span under it (MCP semantic conventions)', async () => {
    const traceId = randomBytes(16).toString('hex')
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`
    const r = await viaA(`/mcp/node/${b.ready.node_id}/mcp`, opToken, {
      body: {
        jsonrpc: '2.0', id: 7, method: 'tools/call',
        params: { name: 'get_status', arguments: {}, _meta: { traceparent, 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } }
      },
      headers: { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'get_status' }
    })
    assert.equal(r.status, 200, r.body)
    const spans = await eventually(
      async () => otlp.spans.filter((s) => s.span.traceId === traceId),
      (l) => l.some((s) => s.node === b.ready.node_id) && l.filter((s) => s.node === a.ready.node_id).length >= 2,
      20_000, 250
    )
    const attr = (s: OtlpSpan, key: string): string | undefined => s.attributes.find((x) => x.key === key)?.value.stringValue
    const atA = spans.find((s) => s.node === a.ready.node_id && s.span.kind === 2)?.span
    const hop = spans.find((s) => s.node === a.ready.node_id && s.span.kind === 3)?.span
    const atB = spans.find((s) => s.node === b.ready.node_id && s.span.kind === 2)?.span
    assert.ok(atA !== undefined && hop !== undefined && atB !== undefined, `spans: ${JSON.stringify(spans.map((s) => [s.node, s.span.name, s.span.kind]))}`)
    assert.equal(atA.name, 'tools/call get_status')
    assert.equal(atB.name, 'tools/call get_status')
    assert.equal(hop.parentSpanId, atA.spanId, 'the hop is under A\'s span')
    assert.equal(atB.parentSpanId, hop.spanId, 'B\'s span is under the hop')
    assert.equal(atA.parentSpanId, traceparent.split('-')[2], 'A\'s span is under the agent\'s context')
    assert.ok(!JSON.stringify(otlp.spans).includes(opToken.split('.')[2]!), 'no token in any span')
    for (const s of [atA, atB]) {
      assert.equal(attr(s, 'mcp.method.name'), 'tools/call')
      assert.equal(attr(s, 'gen_ai.tool.name'), 'get_status')
      assert.equal(attr(s, 'jsonrpc.request.id'), '7')
      assert.equal(attr(s, 'mcp.protocol.version'), '2026-07-28')
    }
  })

  it('a killed member gives a clear 503 once A sees it offline', async () => {
    await c.kill()
    const answer = await eventually(async () => await viaA(`/mcp/node/${c.ready.node_id}/tools/call`, opToken, { body: { name: 'get_status' } }), (r) => r.status === 503, 30_000, 250)
    assert.equal(answer.status, 503)
    assert.match(answer.json<{ message: string }>().message, /offline|could not be reached/)
  })

  it('a removed member is unreachable at once, and the hive view tells a listening client its tools went while the other names stay the same', async () => {
    const argv = diesWithParent([process.execPath, CLIENT_VIEW, `${a.url}/mcp/hive`, opToken, 'legacy', b.ready.node_id, 'watch'])
    const child = spawn(argv.cmd, argv.args,
      { env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(a.dataDir, 'tls', 'cert.pem') }), stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      let stdout = ''
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      const done = new Promise<void>((resolve) => child.on('close', () => resolve()))
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => { if (d.toString().includes('listening')) resolve() })
        child.on('close', () => reject(new Error(`the client ended before listening: ${stdout}`)))
      })
      await cli(a, ['hive', 'remove', b.ready.peer_id])
      const r = await viaA(`/mcp/node/${b.ready.node_id}/tools/call`, opToken, { body: { name: 'get_status' } })
      assert.equal(r.status, 404, 'unreachable at once')
      await done
      const out = JSON.parse(stdout) as { tools: string[], changed: boolean, after: string[] }
      assert.equal(out.changed, true, 'notifications/tools/list_changed arrived')
      assert.ok(out.tools.includes(viewName(b, 'get_status')) && !out.after.some((t) => t.startsWith(viewName(b, ''))), `B's tools are gone: ${out.after.join(' ')}`)
      assert.deepEqual(out.after, out.tools.filter((t) => !t.startsWith(viewName(b, ''))), 'every other name is unchanged')
    } finally {
      child.kill('SIGKILL')
    }
  })
})
