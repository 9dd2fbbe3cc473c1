import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Fleet, type NodeProcess } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { operatorClient } from '../helpers/tokens.ts'
import { RawMcp } from '../fixtures/mcp-raw.ts'
import { ALL_TOOLS, CLIENT_V2_MORE, LATEST, NODE_INFO, accessToken, caOf, keptStreams, runClient, startMain, type Client } from './mcp-lib.ts'

function challengeOf (res: { headers: Record<string, string | string[] | undefined> }): string {
  return String(res.headers['www-authenticate'] ?? '')
}

describe('MCP over Streamable HTTP', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  /** A node with the smallest body limit, a 2 s session idle time and one CORS origin. */
  let small: NodeProcess
  let ca: string
  let smallCa: string
  let op: Client
  /** A token of another client, registered with mcp:read and mcp:call only. */
  let rcToken: string
  let mcp: RawMcp
  const stream = keptStreams()

  before(async () => {
    [{ node, ca, op, rcToken, mcp }, small] = await Promise.all([
      startMain(fleet),
      fleet.start({ args: ['--name', 'mcp-small', '--body-limit', '1024', '--mcp-session-idle', '2s', '--cors-origin', 'https://app.example'] })
    ])
    smallCa = caOf(small)
  })

  after(async () => { await fleet.cleanup() })

  describe('sessions (2025-11-25)', () => {
    it('ends a session on DELETE with Mcp-Session-Id: its GET stream closes and later requests get 404', async () => {
      const s = await mcp.initialize()
      assert.equal((await mcp.call(s, 'tools/list')).status, 200)
      const sse = stream(mcp.openStream(s))
      const del = await mcp.delete(s)
      assert.equal(del.status, 200, del.body)
      await sse.until(() => sse.ended, 5000, 'the GET stream to end')
      const after = await mcp.call(s, 'tools/list')
      assert.equal(after.status, 404)
      assert.equal(after.json<{ error: { code: number } }>().error.code, -32001)
      assert.equal((await mcp.delete(s)).status, 404)
      const reopen = stream(mcp.openStream(s))
      assert.equal(await reopen.response, 404)
    })

    it('answers 404 to a session id opened by another client, on POST, GET and DELETE, and leaves the session working', async () => {
      const s = await mcp.initialize()
      const stranger = new RawMcp(node.ready.mcp_url, ca, rcToken)
      assert.equal((await stranger.call(s, 'tools/list')).status, 404)
      const sse = stream(stranger.openStream(s))
      assert.equal(await sse.response, 404)
      assert.equal((await stranger.delete(s)).status, 404)
      const own = await mcp.call(s, 'tools/list')
      assert.equal(own.status, 200)
      assert.deepEqual(own.response?.result?.tools.map((t: { name: string }) => t.name).sort(), ALL_TOOLS)
      await mcp.delete(s)
    })

    it('answers 404 to an unknown session id', async () => {
      const res = await mcp.call('00000000-0000-4000-8000-000000000000', 'tools/list')
      assert.equal(res.status, 404)
    })

    it('keeps a session whose client listens on its GET stream, whose headers arrive at once, and closes it once unused past --mcp-session-idle (404 after)', async () => {
      const op2 = operatorClient(small.dataDir)
      const raw = new RawMcp(small.ready.mcp_url, smallCa, await accessToken(small, op2.client_id, op2.client_secret))
      const s = await raw.initialize()
      assert.equal((await raw.call(s, 'tools/list')).status, 200)
      const sse = stream(raw.openStream(s))
      // The response head comes before any event: well within the idle time of 2 s.
      assert.equal(await Promise.race([sse.response, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 1500))]), 200, 'stream headers sent at once')
      // Listening is use: past twice the idle time (and a sweep), the session is still there.
      await new Promise((resolve) => setTimeout(resolve, 4500))
      assert.equal(sse.ended, false, 'the listening stream stays open')
      assert.equal((await raw.call(s, 'tools/list')).status, 200, 'the listened-on session is kept')
      // Once the client stops listening and stays away, the session goes.
      sse.drop()
      // Idle 2 s, swept every 2 s: gone about 4 s after the last use. A busy machine can run the
      // sweep late, and asking again is use, so each try waits longer without touching it.
      let res: Awaited<ReturnType<typeof raw.call>> | undefined
      for (const wait of [4500, 9000, 18_000]) {
        await new Promise((resolve) => setTimeout(resolve, wait))
        res = await raw.call(s, 'tools/list')
        if (res.status === 404) break
      }
      assert.equal(res?.status, 404)
      assert.equal(res!.json<{ error: { code: number } }>().error.code, -32001)
    })
  })

  describe('refusals', () => {
    let session: string

    before(async () => {
      session = await mcp.initialize()
    })

    it('answers a request without a token with 401 and a challenge naming the resource metadata (RFC 9728 §5.1)', async () => {
      const res = await request1(node.ready.mcp_url, {
        ca, method: 'POST', headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
      })
      assert.equal(res.status, 401)
      assert.match(challengeOf(res), /^Bearer /)
      assert.ok(challengeOf(res).includes(`resource_metadata="${node.ready.url}/.well-known/oauth-protected-resource/mcp"`), challengeOf(res))
      // What a client should ask for (MCP scope selection): what an agent uses, not administration.
      assert.ok(challengeOf(res).includes('scope="mcp:read mcp:call mcp:resources offline_access"'), challengeOf(res))
      assert.equal(res.json().error, 'unauthorized')
      const get = await request1(node.ready.mcp_url, { ca, headers: { accept: 'text/event-stream' } })
      assert.equal(get.status, 401)
      const rest = await request1(`${node.url}/mcp/tools/call`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'get_status' }) })
      assert.equal(rest.status, 401)
      assert.ok(challengeOf(rest).includes('scope="mcp:call"'), challengeOf(rest))
    })

    it('refuses tools/call of provision_node to a token without mcp:admin with 403 insufficient_scope, scope="mcp:admin" (RFC 6750 §3.1)', async () => {
      const callOnly = new RawMcp(node.ready.mcp_url, ca, await accessToken(node, op.client_id, op.client_secret, 'mcp:call'))
      const s = await callOnly.initialize()
      const res = await callOnly.call(s, 'tools/call', { name: 'provision_node', arguments: { name: 'nope', scopes: ['mcp:read'], dry_run: true } })
      assert.equal(res.status, 403)
      assert.match(challengeOf(res), /error="insufficient_scope"/)
      assert.match(challengeOf(res), /scope="mcp:admin"/)
      assert.match(challengeOf(res), /resource_metadata="/)
      assert.equal(res.json().error, 'insufficient_scope')
      // The same token may call what mcp:call allows.
      const allowed = await callOnly.call(s, 'tools/call', { name: 'get_status', arguments: {} })
      assert.equal(allowed.status, 200)
      assert.equal(allowed.response?.result?.structuredContent?.node_id, node.ready.node_id)
      await callOnly.delete(s)
    })

    it('refuses resources/read and resources/subscribe to a token without mcp:resources with 403 insufficient_scope, scope="mcp:resources"', async () => {
      const reader = new RawMcp(node.ready.mcp_url, ca, rcToken)
      const s = await reader.initialize()
      for (const [method, params] of [['resources/read', { uri: NODE_INFO }], ['resources/subscribe', { uri: LATEST }]] as const) {
        const res = await reader.call(s, method, params)
        assert.equal(res.status, 403, method)
        assert.match(challengeOf(res), /error="insufficient_scope"/)
        assert.match(challengeOf(res), /scope="mcp:resources"/)
        assert.equal(res.json().error, 'insufficient_scope')
      }
      await reader.delete(s)
    })

    it('refuses tools/list to a token without mcp:read with 403 insufficient_scope, scope="mcp:read"', async () => {
      const callOnly = new RawMcp(node.ready.mcp_url, ca, await accessToken(node, op.client_id, op.client_secret, 'mcp:call'))
      const s = await callOnly.initialize()
      const res = await callOnly.call(s, 'tools/list')
      assert.equal(res.status, 403)
      assert.match(challengeOf(res), /scope="mcp:read"/)
      await callOnly.delete(s)
    })

    it('lists to each caller only the tools its scopes allow, in both eras', async () => {
      for (const mode of ['legacy', 'auto']) {
        const out = await runClient(CLIENT_V2_MORE, node, [node.ready.mcp_url, rcToken, mode, 'tools'])
        assert.deepEqual(out.tools, ['get_status', 'list_peers'], `${mode}: mcp:read mcp:call sees no provision_node`)
      }
      const readOnly = new RawMcp(node.ready.mcp_url, ca, await accessToken(node, op.client_id, op.client_secret, 'mcp:read'))
      const s = await readOnly.initialize()
      assert.deepEqual((await readOnly.call(s, 'tools/list')).response?.result?.tools, [], 'mcp:read alone may call no tool')
      await readOnly.delete(s)
    })

    it('refuses an Origin that is neither the node\'s own nor a --cors-origin with 403 (DNS rebinding protection)', async () => {
      const evil = await mcp.call(session, 'tools/list', {}, { origin: 'https://evil.example' })
      assert.equal(evil.status, 403)
      assert.equal(evil.json<{ error: { code: number } }>().error.code, -32000)
      const own = await mcp.call(session, 'tools/list', {}, { origin: new URL(node.ready.url).origin })
      assert.equal(own.status, 200)
      // On the node that names https://app.example as a CORS origin, that origin may call.
      const op2 = operatorClient(small.dataDir)
      const raw = new RawMcp(small.ready.mcp_url, smallCa, await accessToken(small, op2.client_id, op2.client_secret))
      const init = await raw.call(undefined, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } }, { origin: 'https://app.example' })
      assert.equal(init.status, 200, init.body)
      const refused = await raw.call(undefined, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } }, { origin: 'https://other.example' })
      assert.equal(refused.status, 403)
    })

    it('on loopback, refuses a Host header that names another host with 403 (DNS rebinding protection)', async () => {
      const port = new URL(node.ready.url).port
      // As a browser tricked by DNS rebinding would send it: the node's address, another name.
      const send = async (host: string): Promise<Answer> => await request1(node.ready.mcp_url, {
        ca, method: 'POST', headers: { ...mcp.headers(session), host }, tls: { checkServerIdentity: () => undefined },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list', params: {} })
      })
      const evil = await send(`evil.example:${port}`)
      assert.equal(evil.status, 403)
      assert.match(evil.body, /unexpected Host header/)
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) assert.equal((await send(host)).status, 200, host)
    })

    it('refuses a body larger than --body-limit with 413, accepts one within it, and keeps serving', async () => {
      const op2 = operatorClient(small.dataDir)
      const raw = new RawMcp(small.ready.mcp_url, smallCa, await accessToken(small, op2.client_id, op2.client_secret))
      const s = await raw.initialize()
      const body = (padding: number): string => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: { pad: 'x'.repeat(padding) } } })
      const within = body(900)
      assert.ok(Buffer.byteLength(within) <= 1024)
      assert.equal((await raw.post(within, { session: s })).status, 200)
      const over = body(1100)
      const res = await raw.post(over, { session: s })
      assert.equal(res.status, 413)
      assert.equal(res.json().error, 'payload_too_large')
      assert.equal((await raw.call(s, 'tools/list')).status, 200)
      await raw.delete(s)
    })

    it('answers malformed JSON with HTTP 400 and JSON-RPC -32700 Parse error', async () => {
      const res = await mcp.post('{"jsonrpc":"2.0","id":1,"method":', { session })
      assert.equal(res.status, 400)
      const body = res.json<{ jsonrpc: string, id: unknown, error: { code: number } }>()
      assert.equal(body.jsonrpc, '2.0')
      assert.equal(body.error.code, -32700)
      assert.equal(body.id, null)
    })

    it('answers an unknown method with JSON-RPC -32601 Method not found, in both eras', async () => {
      const legacy = await mcp.call(session, 'no/such/method')
      assert.equal(legacy.response?.error?.code, -32601, legacy.body)
      const meta = {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'edge-hive-raw-test', version: '1.0.0' }
      }
      const modern = await mcp.call(undefined, 'no/such/method', { _meta: meta }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'no/such/method' })
      assert.equal(modern.response?.error?.code, -32601, modern.body)
    })

    it('keeps serving after every refusal: the session opened before them and a new one both work', async () => {
      const res = await mcp.call(session, 'tools/call', { name: 'get_status', arguments: {} })
      assert.equal(res.status, 200)
      assert.equal(res.response?.result?.structuredContent?.node_id, node.ready.node_id)
      const fresh = await mcp.initialize()
      assert.deepEqual((await mcp.call(fresh, 'tools/list')).response?.result?.tools.map((t: { name: string }) => t.name).sort(), ALL_TOOLS)
      await mcp.delete(fresh)
      await mcp.delete(session)
    })
  })
})
