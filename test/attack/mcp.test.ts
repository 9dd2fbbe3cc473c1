// An attacker's view of the MCP endpoint and the REST stream: a token with too few scopes
// reaching further by batching, by listening, or by holding a stream open after its rights end;
// one client taking every session. Each test names the finding of the outside review it covers.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Fleet, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { getToken, operatorClient, signWithNodeKey } from '../helpers/tokens.ts'
import { RawMcp, SseStream, SESSION_PROTOCOL_VERSION } from '../fixtures/mcp-raw.ts'

const LATEST = 'edge-hive://logs/latest'
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'edge-hive-attacker', version: '1.0.0' }
}

describe('attack: MCP scopes, streams and sessions', () => {
  const fleet = new Fleet()
  const streams: SseStream[] = []
  let node: NodeProcess
  let ca: string
  let op: { client_id: string, client_secret: string }
  let opToken: string

  const token = async (clientId: string, secret: string, scope?: string): Promise<string> => {
    const res = await getToken(node.url, clientId, secret, scope === undefined ? {} : { scope })
    assert.equal(res.status, 200, res.body)
    return res.json<{ access_token: string }>().access_token
  }
  const addClient = async (name: string, scopes: string[]): Promise<{ id: string, token: string }> => {
    const res = await request1(`${node.url}/admin/clients`, {
      ca, method: 'POST', headers: { authorization: `Bearer ${opToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, scopes })
    })
    assert.equal(res.status, 201, res.body)
    const body = res.json<{ client: { client_id: string }, client_secret: string }>()
    return { id: body.client.client_id, token: await token(body.client.client_id, body.client_secret) }
  }
  const restStream = (bearer: string): SseStream => {
    const s = SseStream.open(`${node.url}/mcp/node/${node.ready.node_id}/stream`, ca, { authorization: `Bearer ${bearer}`, accept: 'text/event-stream' })
    streams.push(s)
    return s
  }
  /** A token of the operator client that the node's own key signs, ending in `seconds`. */
  const shortToken = async (seconds: number): Promise<string> => {
    const now = Math.floor(Date.now() / 1000)
    return await signWithNodeKey(node.dataDir, {
      iss: node.ready.url, aud: node.ready.mcp_url, client_id: op.client_id, sub: op.client_id,
      jti: randomUUID(), scope: 'mcp:read mcp:call mcp:resources', iat: now, exp: now + seconds
    })
  }

  before(async () => {
    node = await fleet.start({ args: ['--name', 'attack-mcp', '--mcp-max-sessions', '10', '--mcp-max-sessions-per-client', '3', '--max-streams', '10', '--max-streams-per-client', '2'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    op = operatorClient(node.dataDir)
    opToken = await token(op.client_id, op.client_secret)
  })

  after(async () => {
    for (const s of streams) s.drop()
    await fleet.cleanup()
  })

  describe('finding 1: JSON-RPC batches', () => {
    it('a token with mcp:call only cannot read, subscribe to or list resources by wrapping the request in a batch (403 naming the scope)', async () => {
      const caller = await addClient('batch-caller', ['mcp:call'])
      const raw = new RawMcp(node.ready.mcp_url, ca, caller.token)
      const session = await raw.initialize()
      for (const [method, params, scope] of [
        ['resources/read', { uri: LATEST }, 'mcp:resources'],
        ['resources/subscribe', { uri: LATEST }, 'mcp:resources'],
        ['resources/templates/list', {}, 'mcp:read']
      ] as const) {
        const res = await raw.post([{ jsonrpc: '2.0', id: 1, method, params }], { session })
        assert.equal(res.status, 403, `${method} in a batch: ${res.body}`)
        assert.match(String(res.headers['www-authenticate']), new RegExp(`error="insufficient_scope".*scope="${scope}"`))
        assert.ok(!res.body.includes('node.started'), 'no log line leaks')
      }
      await raw.delete(session)
    })

    it('refuses any batch in a 2025-11-25 session, even one the token may send (MCP 2025-06-18 removed batching)', async () => {
      const raw = new RawMcp(node.ready.mcp_url, ca, opToken)
      const session = await raw.initialize()
      const res = await raw.post([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'ping' }], { session })
      assert.equal(res.status, 400, res.body)
      assert.equal(res.json<{ error: { code: number, message: string } }>().error.code, -32600)
      assert.match(res.json<{ error: { message: string } }>().error.message, /no JSON-RPC batches/)
      const alone = await raw.call(session, 'tools/list')
      assert.equal(alone.status, 200, 'the session still serves single messages')
      await raw.delete(session)
    })

    it('in a 2025-03-26 session, where batches exist, answers a batch whose every element is allowed and refuses one with an element beyond the token', async (t) => {
      const caller = await addClient('batch-2025-03', ['mcp:call'])
      const raw = new RawMcp(node.ready.mcp_url, ca, caller.token)
      const init = await raw.call(undefined, 'initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'old', version: '1' } })
      const session = String(init.headers['mcp-session-id'])
      t.after(async () => { await raw.delete(session) })
      assert.equal(init.response?.result?.protocolVersion, '2025-03-26')
      const v = { 'mcp-protocol-version': '2025-03-26' }
      assert.equal((await raw.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { session, headers: v })).status, 202)
      const ok = await raw.post([
        { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'get_status', arguments: {} } },
        { jsonrpc: '2.0', id: 'b', method: 'ping' }
      ], { session, headers: v })
      assert.equal(ok.status, 200, ok.body)
      const answers = ok.messages.filter((m) => m.id !== undefined)
      assert.deepEqual(answers.map((m) => m.id).sort(), ['a', 'b'])
      assert.ok(answers.every((m) => m.result !== undefined), ok.body)

      const mixed = await raw.post([
        { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'get_status', arguments: {} } },
        { jsonrpc: '2.0', id: 'd', method: 'resources/read', params: { uri: LATEST } }
      ], { session, headers: v })
      assert.equal(mixed.status, 403, mixed.body)
      assert.match(String(mixed.headers['www-authenticate']), /scope="mcp:resources"/)
    })
  })

  describe('finding 2: streams end with their token', () => {
    it('the REST stream and an MCP GET stream of a revoked client close at once, each with a last event saying why', async () => {
      const victim = await addClient('revoked-listener', ['mcp:read', 'mcp:resources'])
      const rest = restStream(victim.token)
      const raw = new RawMcp(node.ready.mcp_url, ca, victim.token)
      const session = await raw.initialize()
      const get = raw.openStream(session)
      streams.push(get)
      assert.equal(await rest.response, 200)
      assert.equal(await get.response, 200)

      const revoke = await request1(`${node.url}/admin/clients/${victim.id}/revoke`, { ca, method: 'POST', headers: { authorization: `Bearer ${opToken}` } })
      assert.equal(revoke.status, 200, revoke.body)

      await rest.until(() => rest.ended, 10_000, 'the REST stream to end')
      const end = rest.events.find((e) => e.event === 'end')
      assert.ok(end !== undefined, JSON.stringify(rest.events))
      assert.equal(JSON.parse(end.data).reason, 'token_revoked')

      await get.until(() => get.ended, 10_000, 'the MCP GET stream to end')
      const last = get.messages().at(-1)?.message
      assert.equal(last?.method, 'notifications/message')
      assert.equal((last?.params?.data as { reason?: string } | undefined)?.reason, 'token_revoked')
      // The session went with its token: the id is no longer known.
      assert.equal((await new RawMcp(node.ready.mcp_url, ca, opToken).call(session, 'ping')).status, 404)
    })

    it('the REST stream and an MCP session end when their token expires, even with a stream open (the session no longer lingers)', async () => {
      const short = await shortToken(3)
      const rest = restStream(short)
      const raw = new RawMcp(node.ready.mcp_url, ca, short)
      const session = await raw.initialize()
      const get = raw.openStream(session)
      streams.push(get)
      await rest.until(() => rest.ended, 15_000, 'the REST stream to end at expiry')
      assert.equal(JSON.parse(rest.events.find((e) => e.event === 'end')?.data ?? '{}').reason, 'token_expired')
      await get.until(() => get.ended, 15_000, 'the GET stream to end at expiry')
      assert.equal((get.messages().at(-1)?.message.params?.data as { reason?: string } | undefined)?.reason, 'token_expired')
      const later = await new RawMcp(node.ready.mcp_url, ca, opToken).call(session, 'ping')
      assert.equal(later.status, 404, 'the session was closed with its token')
    })
  })

  describe('finding 9: one client cannot take every session or stream', () => {
    it('caps sessions per client (429) and in all (503), keeping room for a client with mcp:admin', async () => {
      const opened: Array<{ raw: RawMcp, session: string }> = []
      try {
        const clients = await Promise.all([1, 2, 3, 4].map(async (i) => await addClient(`hog-${i}`, ['mcp:read'])))
        const first = new RawMcp(node.ready.mcp_url, ca, clients[0]!.token)
        for (let i = 0; i < 3; i++) opened.push({ raw: first, session: await first.initialize() })
        // At its limit, a client's least recently used idle session makes room for a new one...
        const evicted = opened[0]!.session
        opened.push({ raw: first, session: await first.initialize() })
        assert.equal((await first.call(evicted, 'ping')).status, 404, 'the oldest idle session was closed')
        assert.equal((await first.call(opened.at(-1)!.session, 'ping')).status, 200)
        // ...but sessions with an open stream are in use: with all three listening, a fourth is refused.
        const live = opened.slice(1).map((o) => { const st = first.openStream(o.session); streams.push(st); return st })
        for (const st of live) assert.equal(await st.response, 200)
        const fourth = await first.call(undefined, 'initialize', { protocolVersion: SESSION_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'hog', version: '1' } })
        assert.equal(fourth.status, 429, fourth.body)
        assert.match(fourth.body, /This client has as many MCP sessions open as it may/)
        for (const st of live) st.drop()
        // Nine of ten places are open to clients without mcp:admin.
        for (const c of clients.slice(1, 3)) {
          const raw = new RawMcp(node.ready.mcp_url, ca, c.token)
          for (let i = 0; i < 3; i++) opened.push({ raw, session: await raw.initialize() })
        }
        const other = new RawMcp(node.ready.mcp_url, ca, clients[3]!.token)
        const full = await other.call(undefined, 'initialize', { protocolVersion: SESSION_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'late', version: '1' } })
        assert.equal(full.status, 503, full.body)
        const admin = new RawMcp(node.ready.mcp_url, ca, opToken)
        opened.push({ raw: admin, session: await admin.initialize() })
      } finally {
        for (const o of opened) await o.raw.delete(o.session)
      }
      // Closed sessions give their places back.
      const again = new RawMcp(node.ready.mcp_url, ca, opToken)
      await again.delete(await again.initialize())
    })

    it('caps REST streams per client', async () => {
      const c = await addClient('stream-hog', ['mcp:read'])
      const a = restStream(c.token)
      const b = restStream(c.token)
      assert.equal(await a.response, 200)
      assert.equal(await b.response, 200)
      const third = restStream(c.token)
      assert.equal(await third.response, 429)
      assert.match(third.body, /too_many_streams/)
      a.drop()
      b.drop()
    })
  })

  describe('siblings', () => {
    it('a token with mcp:read alone cannot make the node flood its hive with adverts: /discovery/announce sends at most once every 5 s', async () => {
      const init = await request1(`${node.url}/hive/init`, { ca, method: 'POST', headers: { authorization: `Bearer ${opToken}` } })
      assert.equal(init.status, 201, init.body)
      const reader = await addClient('announcer', ['mcp:read'])
      const outcomes: boolean[] = []
      const started = Date.now()
      for (let i = 0; i < 5; i++) {
        const res = await request1(`${node.url}/discovery/announce`, { ca, headers: { authorization: `Bearer ${reader.token}` } })
        assert.equal(res.status, 200, res.body)
        outcomes.push(res.json<{ announced: boolean }>().announced)
      }
      // At most one announcement per 5 s that passed, however slow the machine is today.
      const allowed = 1 + Math.floor((Date.now() - started) / 5000)
      const sent = outcomes.filter((a) => a).length
      assert.ok(sent >= 1 && sent <= allowed, `${JSON.stringify(outcomes)} in ${Date.now() - started} ms`)
      assert.ok(sent < outcomes.length, 'some requests were answered without announcing')
    })
  })

  describe('finding 11: one scope table for notifications', () => {
    it('the REST stream sends audit entries only to tokens that may read the logs (mcp:resources)', async () => {
      const reader = await addClient('stream-reader', ['mcp:read'])
      const logs = await addClient('stream-logs', ['mcp:read', 'mcp:resources'])
      const quiet = restStream(reader.token)
      const loud = restStream(logs.token)
      assert.equal(await quiet.response, 200)
      assert.equal(await loud.response, 200)
      await addClient('makes-an-audit-entry', ['mcp:read'])
      await loud.until(() => loud.events.some((e) => e.event === 'log'), 10_000, 'a log event')
      // The same audit entry reached the other stream by now, had it been sent.
      assert.deepEqual(quiet.events.filter((e) => e.event === 'log' || e.event === 'resource_updated'), [])
      quiet.drop()
      loud.drop()
    })

    it('a 2026 subscriptions/listen with mcp:call only is acknowledged without the resource updates it may not receive', async () => {
      const caller = await addClient('listen-caller', ['mcp:call'])
      const headers = {
        authorization: `Bearer ${caller.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json',
        'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen'
      }
      const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'subscriptions/listen', params: { _meta: MODERN_META, notifications: { resourceSubscriptions: [LATEST], toolsListChanged: true } } })
      const listen = SseStream.open(node.ready.mcp_url, ca, headers, { body })
      streams.push(listen)
      await listen.until(() => listen.messages().some((m) => m.message.method === 'notifications/subscriptions/acknowledged'), 10_000, 'the acknowledgement')
      const ack = listen.messages().find((m) => m.message.method === 'notifications/subscriptions/acknowledged')!.message
      const granted = ack.params?.notifications as Record<string, unknown>
      assert.equal(granted.resourceSubscriptions, undefined, JSON.stringify(ack))
      assert.notEqual(granted.toolsListChanged, true, 'tools/list needs mcp:read')
      await addClient('after-listen', ['mcp:read'])
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.ok(!listen.messages().some((m) => m.message.method === 'notifications/resources/updated'), JSON.stringify(listen.events))
      listen.drop()
    })
  })
})
