import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NodeProcess, cleanEnv, removeDir } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'
import { RawMcp, type SseStream } from '../fixtures/mcp-raw.ts'

const exec = promisify(execFile)
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
const CLIENT_V2 = fixture('mcp-client-v2.ts')
const CLIENT_V2_MORE = fixture('mcp-client-v2-more.ts')
const CLIENT_V1 = fixture('mcp-client-v1.ts')
const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version

const LATEST = 'edge-hive://logs/latest'
const NODE_INFO = 'edge-hive://node/info'
const ALL_TOOLS = ['get_status', 'list_peers', 'provision_node']
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const todayLog = (): string => `edge-hive://logs/${new Date().toISOString().slice(0, 10)}`

/** Runs a client fixture in its own process, trusting the node's certificate; returns its JSON. */
async function runClient (file: string, node: NodeProcess, args: string[]): Promise<Record<string, any>> {
  const { stdout } = await exec(process.execPath, [file, ...args], {
    env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }), timeout: 30_000
  })
  return JSON.parse(stdout) as Record<string, any>
}

async function accessToken (node: NodeProcess, clientId: string, secret: string, scope?: string): Promise<string> {
  const res = await getToken(node.url, clientId, secret, scope === undefined ? {} : { scope })
  assert.equal(res.status, 200, res.body)
  return res.json<{ access_token: string }>().access_token
}

function challengeOf (res: { headers: Record<string, string | string[] | undefined> }): string {
  return String(res.headers['www-authenticate'] ?? '')
}

describe('MCP over Streamable HTTP', () => {
  let node: NodeProcess
  /** A node with the smallest body limit, a 2 s session idle time and one CORS origin. */
  let small: NodeProcess
  let ca: string
  let smallCa: string
  let op: { client_id: string, client_secret: string }
  /** Every scope: mcp:read mcp:call mcp:resources mcp:admin. */
  let opToken: string
  /** Another client, registered with mcp:read and mcp:call only. */
  let rc: { client_id: string, client_secret: string }
  let rcToken: string
  let mcp: RawMcp
  const streams: SseStream[] = []
  const stream = (s: SseStream): SseStream => { streams.push(s); return s }

  /** Adds an OAuth client through the admin API: one audit entry, so one log update. */
  const addClient = async (name: string, scopes: string[]): Promise<{ client_id: string, client_secret: string }> => {
    const res = await request1(`${node.url}/admin/clients`, {
      ca, method: 'POST', headers: { authorization: `Bearer ${opToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, scopes })
    })
    assert.equal(res.status, 201, res.body)
    const body = res.json<{ client: { client_id: string }, client_secret: string }>()
    return { client_id: body.client.client_id, client_secret: body.client_secret }
  }

  before(async () => {
    [node, small] = await Promise.all([
      NodeProcess.start({ args: ['--name', 'mcp-e2e'] }),
      NodeProcess.start({ args: ['--name', 'mcp-small', '--body-limit', '1024', '--mcp-session-idle', '2s', '--cors-origin', 'https://app.example'] })
    ])
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    smallCa = readFileSync(join(small.dataDir, 'tls', 'cert.pem'), 'utf8')
    op = operatorClient(node.dataDir)
    opToken = await accessToken(node, op.client_id, op.client_secret)
    rc = await addClient('reader-caller', ['mcp:read', 'mcp:call'])
    rcToken = await accessToken(node, rc.client_id, rc.client_secret)
    mcp = new RawMcp(node.ready.mcp_url, ca, opToken)
  })

  after(async () => {
    for (const s of streams) s.drop()
    await Promise.all([node?.kill(), small?.kill()])
    if (node !== undefined) removeDir(node.dataDir)
    if (small !== undefined) removeDir(small.dataDir)
  })

  describe('official SDK clients', () => {
    for (const [mode, era, version] of [['legacy', 'legacy', '2025-11-25'], ['auto', 'modern', '2026-07-28']] as const) {
      it(
        `v2 client, versionNegotiation ${mode}: speaks ${version}, lists the tools, gets get_status as structuredContent, reads node info and the latest log, and is told of an unknown tool`,
        async () => {
          const out = await runClient(CLIENT_V2, node, [node.ready.mcp_url, opToken, mode, 'basics'])
          assert.equal(out.era, era)
          assert.equal(out.version, version)
          if (era === 'legacy') assert.match(String(out.session), /^[\x21-\x7e]{16,}$/, '2025-11-25: a session id of visible ASCII')
          else assert.equal(out.session, null, '2026-07-28 is stateless: no session')
          assert.deepEqual(out.tools, ALL_TOOLS)

          const status = out.status as Record<string, any>
          assert.deepEqual(Object.keys(status).sort(), ['listening', 'load', 'name', 'node_id', 'peers', 'uptime_seconds', 'version'])
          assert.equal(status.node_id, node.ready.node_id)
          assert.equal(status.name, 'mcp-e2e')
          assert.equal(status.version, VERSION)
          assert.ok(Number.isFinite(status.uptime_seconds) && status.uptime_seconds >= 0)
          assert.ok(Number.isFinite(status.load.cpu) && Number.isFinite(status.load.memory))
          assert.ok(status.listening.includes(node.ready.url), `listening ${JSON.stringify(status.listening)}`)
          assert.deepEqual(status.peers, { total: 0, online: 0, members: 0 })

          for (const uri of [NODE_INFO, LATEST, todayLog()]) assert.ok(out.resources.includes(uri), `resources/list names ${uri}`)
          assert.deepEqual(out.templates, ['edge-hive://logs/{date}'])
          assert.equal(out.info.node_id, node.ready.node_id)
          assert.equal(out.info.capabilities.mcp.https_endpoint, node.ready.mcp_url)
          assert.ok(out.latest >= 2, `the latest log has the start and the operator client at least, had ${out.latest} lines`)
          assert.match(String(out.unknownTool), /^error:.*no_such_tool/)
        }
      )

      it(`v2 client, versionNegotiation ${mode}: reads one day's log through the edge-hive://logs/{date} template and is refused a date that is none`, async () => {
        const out = await runClient(CLIENT_V2_MORE, node, [node.ready.mcp_url, opToken, mode, 'logs'])
        assert.equal(out.era, era)
        assert.equal(out.listed, true, 'today is among the listed logs')
        assert.equal(out.uri, todayLog())
        assert.equal(out.mimeType, 'application/jsonl')
        const started = (out.entries as Array<Record<string, unknown>>).filter((e) => e.action === 'node.started')
        assert.equal(started.length, 1)
        assert.equal(started[0]!.target, node.ready.node_id)
        const at = (out.entries as Array<{ at: string }>).map((e) => Date.parse(e.at))
        assert.deepEqual(at, [...at].sort((a, b) => b - a), 'newest first')
        assert.match(String(out.badDate), /not-a-date is not a date/)
      })
    }

    it(
      'v1 client (@modelcontextprotocol/sdk 1.x) with only a client id and secret: finds the authorization server from the 401 (RFC 9728), gets a token, lists tools and calls get_status',
      async () => {
        const out = await runClient(CLIENT_V1, node, [node.ready.mcp_url, op.client_id, op.client_secret, node.ready.url])
        assert.equal(out.error, undefined, String(out.error))
        assert.deepEqual(out.requests.slice(0, 5), [
          'POST /mcp 401',
          'GET /.well-known/oauth-protected-resource/mcp 200',
          'GET /.well-known/oauth-authorization-server 200',
          'POST /oauth/token 200',
          'POST /mcp 200'
        ])
        assert.equal(out.version, '2025-11-25')
        assert.equal(typeof out.session, 'string')
        assert.equal(out.server, 'edge-hive')
        assert.deepEqual(out.tools, ALL_TOOLS)
        assert.equal(out.status.node_id, node.ready.node_id)
        assert.deepEqual(out.status.peers, { total: 0, online: 0, members: 0 })
      }
    )

    it('v1 client with a client registered for fewer scopes gets a token for those and sees only the tools they allow', async () => {
      const out = await runClient(CLIENT_V1, node, [node.ready.mcp_url, rc.client_id, rc.client_secret, node.ready.url])
      assert.equal(out.error, undefined, String(out.error))
      assert.equal(out.scope, 'mcp:read mcp:call')
      assert.deepEqual(out.tools, ['get_status', 'list_peers'])
      assert.equal(out.status.node_id, node.ready.node_id)
    })
  })

  describe('notifications', () => {
    it('v2 client, 2025-11-25 session: hears notifications/resources/updated for a subscribed log once per change, and the tool\'s log messages', async () => {
      const out = await runClient(CLIENT_V2, node, [node.ready.mcp_url, opToken, 'legacy', 'notifications'])
      assert.equal(out.era, 'legacy')
      assert.match(out.provision.client_id, /^ehc_/)
      const seen = out.seen as string[]
      assert.deepEqual(seen.filter((s) => s.startsWith('updated:')), [`updated:${LATEST}`])
      assert.ok(seen.includes(`log:notice:provisioned client ${out.provision.client_id} (via-mcp)`), JSON.stringify(seen))
    })

    it('v2 client, 2026-07-28: hears notifications/resources/updated through subscriptions/listen, once per change', async () => {
      const out = await runClient(CLIENT_V2, node, [node.ready.mcp_url, opToken, 'auto', 'notifications'])
      assert.equal(out.era, 'modern')
      assert.match(out.provision.client_id, /^ehc_/)
      assert.deepEqual((out.seen as string[]).filter((s) => s.startsWith('updated:')), [`updated:${LATEST}`])
    })

    it('sends resources/updated on the GET SSE stream of a subscribed session only, and no more after resources/unsubscribe (2025-11-25)', async () => {
      const subscribed = await mcp.initialize()
      const other = await mcp.initialize()
      assert.equal((await mcp.call(subscribed, 'resources/subscribe', { uri: LATEST })).response?.error, undefined)
      const sub = stream(mcp.openStream(subscribed))
      const quiet = stream(mcp.openStream(other))
      await addClient('notify-1', ['mcp:read'])
      await sub.until(() => sub.messages().length >= 1, 5000, 'the update')
      assert.equal(await sub.response, 200)
      assert.equal(sub.headers['content-type'], 'text/event-stream')
      const first = sub.messages()[0]!
      assert.deepEqual(first.message, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: LATEST } })
      assert.ok(first.id !== undefined && first.id !== '', 'each event has an id, for resumption')

      assert.equal((await mcp.call(subscribed, 'resources/unsubscribe', { uri: LATEST })).response?.error, undefined)
      await addClient('notify-2', ['mcp:read'])
      await sleep(400)
      assert.equal(sub.messages().length, 1, 'nothing after unsubscribing')
      assert.equal(quiet.messages().length, 0, 'nothing for a session that never subscribed')
      sub.drop()
      quiet.drop()
      await mcp.delete(subscribed)
      await mcp.delete(other)
    })
  })

  describe('resumability (2025-11-25 Last-Event-ID)', () => {
    it('replays to a reconnected GET stream exactly the events it missed, once each, and none of another session', async () => {
      // Two sessions of the same client, subscribed to different logs: a leak between their
      // event stores would show as an update for the other log, or an event id of the other.
      const a = await mcp.initialize()
      const b = await mcp.initialize()
      const dated = todayLog()
      await mcp.call(a, 'resources/subscribe', { uri: LATEST })
      await mcp.call(b, 'resources/subscribe', { uri: dated })
      const sa = stream(mcp.openStream(a))
      const sb = stream(mcp.openStream(b))
      const bIds = (): Set<string | undefined> => new Set(sb.messages().map((m) => m.id))

      await addClient('resume-1', ['mcp:read'])
      await sa.until(() => sa.messages().length === 1, 5000, 'the first update on A')
      await sb.until(() => sb.messages().length === 1, 5000, 'the first update on B')
      const lastSeen = sa.messages()[0]!.id!

      sa.drop()
      await addClient('resume-2', ['mcp:read'])
      await addClient('resume-3', ['mcp:read'])
      // B stays connected: once it has both updates, A's store has them too.
      await sb.until(() => sb.messages().length === 3, 5000, 'B hearing the two updates A missed')

      // The node may not have noticed the drop yet; it then answers 409 (that stream is still open).
      let resumed = stream(mcp.openStream(a, lastSeen))
      for (let tries = 0; tries < 10; tries++) {
        await resumed.until(() => resumed.status !== 0 || resumed.ended, 3000, 'an answer to the resumption')
        if (resumed.status !== 409) break
        await sleep(100)
        resumed = stream(mcp.openStream(a, lastSeen))
      }
      await resumed.until(() => resumed.messages().length >= 2, 5000, 'the two missed updates')
      await sleep(300) // anything replayed twice would be here by now
      const replayed = resumed.messages()
      assert.equal(resumed.status, 200)
      assert.equal(replayed.length, 2, `exactly the two missed events: ${JSON.stringify(replayed)}`)
      for (const m of replayed) assert.deepEqual(m.message, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: LATEST } })
      const ids = replayed.map((m) => m.id)
      assert.equal(new Set(ids).size, 2, 'two different events')
      assert.ok(!ids.includes(lastSeen), 'the event A had seen is not sent again')
      for (const id of ids) assert.ok(!bIds().has(id), `event ${id} is B's`)

      // The resumed stream is A's live stream again: a new change arrives once.
      await addClient('resume-4', ['mcp:read'])
      await sb.until(() => sb.messages().length === 4, 5000, 'B hearing the fourth update')
      await resumed.until(() => resumed.messages().length === 3, 5000, 'the live update after the replay')
      await sleep(300)
      assert.equal(resumed.messages().length, 3)
      assert.ok(resumed.messages().every((m) => (m.message.params as { uri: string }).uri === LATEST), 'only A\'s subscription')
      assert.ok(sb.messages().every((m) => (m.message.params as { uri: string }).uri === dated), 'only B\'s subscription')
      resumed.drop()
      sb.drop()
      await mcp.delete(a)
      await mcp.delete(b)
    })

    it('refuses to resume one session\'s stream with an event id from another session', async () => {
      const a = await mcp.initialize()
      const b = await mcp.initialize()
      await mcp.call(a, 'resources/subscribe', { uri: LATEST })
      await mcp.call(b, 'resources/subscribe', { uri: LATEST })
      const sa = stream(mcp.openStream(a))
      await addClient('cross-1', ['mcp:read'])
      await sa.until(() => sa.messages().length === 1, 5000, 'an event on A')
      const foreign = stream(mcp.openStream(b, sa.messages()[0]!.id!))
      assert.equal(await foreign.response, 400, foreign.body)
      assert.equal(JSON.parse(foreign.body).error.code, -32000)
      assert.equal(foreign.messages().length, 0)
      sa.drop()
      await mcp.delete(a)
      await mcp.delete(b)
    })
  })

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
