import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Fleet, type NodeProcess } from '../helpers/cli.ts'
import type { RawMcp } from '../fixtures/mcp-raw.ts'
import { ALL_TOOLS, CLIENT_V1, CLIENT_V2, CLIENT_V2_MORE, LATEST, NODE_INFO, addClientTo, keptStreams, runClient, startMain, type Client } from './mcp-lib.ts'

const VERSION = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version
const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const todayLog = (): string => `edge-hive://logs/${new Date().toISOString().slice(0, 10)}`

describe('MCP over Streamable HTTP', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  let ca: string
  let op: Client
  /** Every scope: mcp:read mcp:call mcp:resources mcp:admin. */
  let opToken: string
  /** Another client, registered with mcp:read and mcp:call only. */
  let rc: Client
  let mcp: RawMcp
  const stream = keptStreams()

  /** Adds an OAuth client through the admin API: one audit entry, so one log update. */
  const addClient = async (name: string, scopes: string[]): Promise<Client> => await addClientTo(node, ca, opToken, name, scopes)

  before(async () => {
    ({ node, ca, op, opToken, rc, mcp } = await startMain(fleet))
  })

  after(async () => { await fleet.cleanup() })

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
})
