import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI, Fleet, cleanEnv, diesWithParent, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { TestNetwork, netnsUnavailable, type TestHost } from './netns.ts'

const exec = promisify(execFile)
const PEERS = fileURLToPath(new URL('../fixtures/hive-peers.ts', import.meta.url))
const GOSSIPER = fileURLToPath(new URL('../fixtures/hive-gossip-peer.ts', import.meta.url))

interface Peer {
  peer_id: string, node_id?: string, status: string, member: boolean, trust: number
  capabilities?: { node_id?: string, seq?: number, capabilities?: { mcp?: { supported_tools?: string[] } } }
}

const unavailable = netnsUnavailable()

/** The hand-written gossip peer (test/fixtures/hive-gossip-peer.ts), driven line by line. */
class Gossiper {
  readonly child: ChildProcess
  readonly #lines: string[] = []
  readonly #waiting: Array<(l: string) => void> = []
  stderr = ''

  constructor (cmd: string, args: string[]) {
    const argv = diesWithParent([cmd, ...args])
    this.child = spawn(argv.cmd, argv.args, { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
    createInterface({ input: this.child.stdout! }).on('line', (l) => { const w = this.#waiting.shift(); if (w !== undefined) w(l); else this.#lines.push(l) })
  }

  async next (): Promise<Record<string, unknown>> {
    const line = this.#lines.shift() ?? await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the gossip peer said nothing in 60 s; stderr: ${this.stderr.slice(-2000)}`)), 60_000)
      this.#waiting.push((l) => { clearTimeout(t); resolve(l) })
    })
    return JSON.parse(line) as Record<string, unknown>
  }

  async send (cmd: string): Promise<Record<string, unknown>> {
    this.child.stdin!.write(cmd + '\n')
    return await this.next()
  }

  stop (): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

// Issue 13: the hive's gossip. A founds the hive, B and C join; host 4 runs a hand-written
// gossipsub peer, once as a stranger and once as a member that misbehaves. Heartbeats every
// 2 s (--peer-offline-after 6s) to keep the test short.
describe('the hive\'s gossip refuses what it must (issue 13)', { skip: unavailable ?? false }, () => {
  const fleet = new Fleet()
  const gossipers: Gossiper[] = []
  let net: TestNetwork
  let hosts: TestHost[]
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let hiveId: string
  const nodeHost = new Map<NodeProcess, TestHost>()

  const run = async (host: TestHost, argv: string[]): Promise<string> => {
    const { cmd, args } = net.command(host, [process.execPath, ...argv])
    return (await exec(cmd, args, { timeout: 60_000, env: cleanEnv() })).stdout
  }
  const cli = async (node: NodeProcess, args: string[]): Promise<string> => await run(nodeHost.get(node)!, [CLI, ...args, '--data-dir', node.dataDir])
  const peerIn = async (node: NodeProcess, peerId: string): Promise<Peer | undefined> =>
    (JSON.parse(await run(nodeHost.get(node)!, [PEERS, node.dataDir, node.url])) as { peers: Peer[] }).peers.find((p) => p.peer_id === peerId)
  const invite = async (node: NodeProcess): Promise<string> => (JSON.parse(await cli(node, ['hive', 'invite', '--json'])) as { token: string }).token
  const lanAddr = (node: NodeProcess): string => `/ip4/${nodeHost.get(node)!.ip}/tcp/4001/p2p/${node.ready.peer_id}`
  const until = async <T>(ms: number, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => await eventually(read, ok, ms, 250)
  const gossiper = async (token?: string): Promise<Gossiper> => {
    const { cmd, args } = net.command(hosts[3]!, [process.execPath, GOSSIPER, lanAddr(a), hiveId, ...(token === undefined ? [] : [token])])
    const g = new Gossiper(cmd, args)
    gossipers.push(g)
    assert.equal((await g.next()).ready, true)
    return g
  }

  const startIn = async (host: TestHost, name: string): Promise<NodeProcess> => {
    const dataDir = fleet.tempDir()
    const n = await fleet.start({
      dataDir,
      args: ['--p2p-listen', '/ip4/0.0.0.0/tcp/4001', '--store', `surrealkv://${join(dataDir, 'db')}`, '--peer-offline-after', '6s', '--name', name],
      wrap: (argv) => net.command(host, argv),
      timeoutMs: 60_000
    })
    nodeHost.set(n, host)
    return n
  }

  before(async () => {
    net = TestNetwork.create(4)
    hosts = net.hosts
    ;[a, b, c] = await Promise.all([startIn(hosts[0]!, 'founder-a'), startIn(hosts[1]!, 'member-b'), startIn(hosts[2]!, 'member-c')])
    await cli(a, ['hive', 'init'])
    hiveId = `hive-${a.ready.peer_id}`
    await cli(b, ['hive', 'join', await invite(a)])
    await cli(c, ['hive', 'join', await invite(a)])
    await until(30_000, async () => await peerIn(b, c.ready.peer_id), (p) => p?.status === 'online' && p.capabilities !== undefined)
  })
  after(async () => {
    for (const g of gossipers) g.stop()
    await fleet.cleanup()
    net?.destroy()
  })

  it('a stranger on the topic gets no gossip, and what it publishes is not taken', async () => {
    const s = await gossiper()
    assert.equal((await s.send(`capture ${b.ready.peer_id}`)).captured, null, 'no member relays the hive\'s gossip to a peer that has not proven membership')
    await s.send('self')
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const seen = await peerIn(a, String((await s.send('self')).peer_id))
    assert.equal(seen?.member ?? false, false)
    assert.equal(seen?.capabilities, undefined, 'its advert was not taken')
    s.stop()
  })

  it('a member\'s forged adverts are refused and cost it trust; the victim\'s advert stands', async () => {
    const r = await gossiper(await invite(a))
    assert.ok(typeof (await r.send(`capture ${b.ready.peer_id}`)).captured === 'number', 'a proven member gets the hive\'s gossip')
    const rogue = String((await r.send('self')).peer_id)
    const before = await until(10_000, async () => await peerIn(c, rogue), (p) => p?.member === true && p.capabilities !== undefined)
    assert.ok(before?.member, 'its genuine advert reached C through A: gossip carries members\' adverts past their neighbours')
    await r.send(`forge ${b.ready.peer_id}`)
    await r.send('forge-chain')
    const after = await until(10_000, async () => await peerIn(a, rogue), (p) => p !== undefined && p.trust <= before!.trust - 0.25)
    assert.ok(after!.trust <= before!.trust - 0.25, `two forged adverts cost it trust on A (was ${before!.trust}, now ${after!.trust})`)
    for (const n of [a, c]) {
      const victim = await peerIn(n, b.ready.peer_id)
      assert.equal(victim?.node_id, b.ready.node_id, 'B\'s advert was not replaced')
      assert.ok(!(victim?.capabilities?.capabilities?.mcp?.supported_tools ?? []).includes('steal_secrets'))
    }
    r.stop()
  })

  it('a member that missed a changed advert asks for it when a heartbeat names it; heartbeats carry the uptime', async () => {
    const r = await gossiper(await invite(a))
    const me = String((await r.send('self')).peer_id)
    await until(10_000, async () => await peerIn(a, me), (p) => p?.member === true && p.capabilities !== undefined)
    assert.ok(Number((await r.send('changed-advert')).sent_to) > 0, 'the heartbeat went out')
    const got = await until(10_000, async () => await peerIn(a, me), (p) => (p?.capabilities?.capabilities?.mcp?.supported_tools ?? []).includes('new_tool'))
    assert.deepEqual(got?.capabilities?.capabilities?.mcp?.supported_tools, ['new_tool'], 'A holds the advert the heartbeat named, which was never gossiped')
    assert.ok(((await r.send('asked-by')).asked_by as string[]).includes(a.ready.peer_id), 'A asked for it on the caps protocol')
    await r.send('beat 4343')
    const beaten = await until(10_000, async () => await peerIn(a, me), (p) => (p?.capabilities as { uptime?: number } | undefined)?.uptime === 4343)
    assert.equal((beaten?.capabilities as { uptime?: number } | undefined)?.uptime, 4343, 'a heartbeat\'s uptime replaces the advert\'s')
    r.stop()
  })

  it('a replayed heartbeat does not bring a killed member back online', async () => {
    const r = await gossiper(await invite(a))
    assert.ok(typeof (await r.send(`capture ${c.ready.peer_id}`)).captured === 'number', 'it captured one of C\'s heartbeats')
    await c.kill()
    await until(20_000, async () => await Promise.all([peerIn(a, c.ready.peer_id), peerIn(b, c.ready.peer_id)]), (ps) => ps.every((p) => p?.status === 'offline'))
    assert.ok(Number((await r.send('replay')).sent_to) > 0, 'the replay went out to A')
    await new Promise((resolve) => setTimeout(resolve, 3000))
    for (const n of [a, b]) assert.equal((await peerIn(n, c.ready.peer_id))?.status, 'offline', 'C stays offline')
    r.stop()
  })
})
