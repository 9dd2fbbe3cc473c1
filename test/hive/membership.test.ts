import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI, Fleet, cleanEnv, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { TestNetwork, netnsUnavailable, type TestHost } from './netns.ts'

const exec = promisify(execFile)
const PEERS = fileURLToPath(new URL('../fixtures/hive-peers.ts', import.meta.url))
const ROGUE = fileURLToPath(new URL('../fixtures/hive-rogue-peer.ts', import.meta.url))

interface Peer {
  peer_id: string
  node_id?: string
  status: string
  member: boolean
  trust: number
  capabilities?: { node_id?: string, peer_id?: string, seq?: number, capabilities?: { mcp?: { supported_tools?: string[] } } }
}
interface Members { hive_id: string | null, members: Array<{ peer_id: string, status: string }>, removed: string[] }

const unavailable = netnsUnavailable()

// Five hosts, each in its own network namespace on a private bridge. A, B and C become members
// and find each other over mDNS; D runs with --discovery but is never invited; host 5 runs the
// hand-written rogue peer and, later, a node that joins through --bootstrap alone.
describe('hive membership between hosts in network namespaces', { skip: unavailable ?? false }, () => {
  const fleet = new Fleet()
  let net: TestNetwork
  let hosts: TestHost[]
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let d: NodeProcess
  const nodeHost = new Map<NodeProcess, TestHost>()

  const run = async (host: TestHost, argv: string[], env?: Record<string, string>): Promise<string> => {
    const { cmd, args } = net.command(host, [process.execPath, ...argv])
    return (await exec(cmd, args, { timeout: 40_000, env: env ?? cleanEnv() })).stdout
  }
  const cli = async (node: NodeProcess, args: string[]): Promise<string> => await run(nodeHost.get(node)!, [CLI, ...args, '--data-dir', node.dataDir])
  const peersOf = async (node: NodeProcess): Promise<Peer[]> =>
    (JSON.parse(await run(nodeHost.get(node)!, [PEERS, node.dataDir, node.url])) as { peers: Peer[] }).peers
  const peerIn = async (node: NodeProcess, peerId: string): Promise<Peer | undefined> => (await peersOf(node)).find((p) => p.peer_id === peerId)
  const membersOf = async (node: NodeProcess): Promise<Members> => JSON.parse(await cli(node, ['hive', 'members', '--json'])) as Members
  const invite = async (node: NodeProcess, extra: string[] = []): Promise<string> => (JSON.parse(await cli(node, ['hive', 'invite', '--json', ...extra])) as { token: string }).token
  const lanAddr = (node: NodeProcess): string => `/ip4/${nodeHost.get(node)!.ip}/tcp/4001/p2p/${node.ready.peer_id}`

  const startIn = async (host: TestHost, args: string[], options: { dataDir?: string, env?: Record<string, string> } = {}): Promise<NodeProcess> => {
    const dataDir = options.dataDir ?? fleet.tempDir()
    const n = await fleet.start({
      dataDir,
      // A real store, so a restarted node keeps its membership and peer table.
      args: ['--p2p-listen', '/ip4/0.0.0.0/tcp/4001', '--store', `surrealkv://${join(dataDir, 'db')}`, '--peer-offline-after', '5s', ...args],
      wrap: (argv) => net.command(host, argv),
      ...(options.env === undefined ? {} : { env: options.env })
    })
    nodeHost.set(n, host)
    return n
  }

  /** Polls `read` until `ok` holds or `ms` pass; returns the last value read. */
  const until = async <T>(ms: number, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => await eventually(read, ok, ms, 250)
  const onlineMember = (p: Peer | undefined): boolean => p?.status === 'online' && p.member && p.capabilities?.capabilities?.mcp !== undefined

  before(async () => {
    net = TestNetwork.create(5)
    hosts = net.hosts
    ;[a, b, c, d] = await Promise.all([
      startIn(hosts[0]!, ['--discovery', '--name', 'member-a']),
      startIn(hosts[1]!, ['--discovery', '--name', 'member-b']),
      startIn(hosts[2]!, ['--discovery', '--name', 'member-c']),
      startIn(hosts[3]!, ['--discovery', '--name', 'stranger-d'])
    ])
  })
  after(async () => {
    await fleet.cleanup()
    net?.destroy()
  })

  // How soon a hive forms is measured by `npm run bench -- --only hive`, not asserted here: a busy
  // machine may take longer than the few seconds it takes on a quiet one.
  it('three invited members found over mDNS see each other online, with capabilities, after joining', async () => {
    assert.match(await cli(a, ['hive', 'init']), /founded hive hive-/)
    const [tb, tc] = [await invite(a), await invite(a)]
    assert.match(tb, /^ehi_/)
    await cli(b, ['hive', 'join', tb])
    await cli(c, ['hive', 'join', tc])
    const trio = [a, b, c]
    const views = await until(60_000, async () => await Promise.all(trio.map(peersOf)), (vs) =>
      vs.every((peers, i) => trio.filter((_, j) => j !== i).every((other) => onlineMember(peers.find((p) => p.peer_id === other.ready.peer_id)))))
    for (const [i, peers] of views.entries()) {
      for (const other of trio.filter((_, j) => j !== i)) {
        const p = peers.find((x) => x.peer_id === other.ready.peer_id)
        assert.ok(onlineMember(p), `${trio[i]!.ready.node_id} sees ${other.ready.node_id} online with its advert; saw ${JSON.stringify(p)}`)
        assert.equal(p!.node_id, other.ready.node_id)
        assert.equal(p!.capabilities?.peer_id, other.ready.peer_id)
        assert.ok(p!.capabilities?.capabilities?.mcp?.supported_tools?.includes('get_status'))
        assert.ok(p!.trust > 0.5, `a proven member is trusted above 0.5, got ${p!.trust}`)
      }
    }
    const m = await membersOf(b)
    assert.equal(m.hive_id, `hive-${a.ready.peer_id}`)
    assert.deepEqual(new Set(m.members.map((x) => x.peer_id)), new Set(trio.map((n) => n.ready.peer_id)))
  })

  it('a node with no invitation is discovered but stays untrusted, and hive protocols refuse it', async () => {
    const seen = await until(10_000, async () => await peerIn(a, d.ready.peer_id), (p) => p !== undefined)
    assert.ok(seen !== undefined, 'A discovered D over mDNS')
    assert.equal(seen.status, 'untrusted')
    assert.equal(seen.member, false)
    assert.equal(seen.capabilities, undefined, 'D\'s advert was not taken')
    assert.ok(seen.trust <= 0.5)
    assert.equal((await membersOf(d)).hive_id, null)
    assert.ok(!(await membersOf(a)).members.some((m) => m.peer_id === d.ready.peer_id))

    // A peer that speaks the protocols but has no credential.
    const out = JSON.parse(await run(hosts[4]!, [ROGUE, 'stranger', lanAddr(a)])) as { peer_id: string, accepted: boolean }
    assert.equal(out.accepted, false, 'its challenge answer is not accepted as membership')
    const stranger = await peerIn(a, out.peer_id)
    assert.equal(stranger?.status, 'untrusted')
    assert.equal(stranger?.capabilities, undefined, 'the capability protocol refused it')
  })

  it('refuses a replayed or stale challenge answer and forged capability records, and lowers the sender\'s trust', async () => {
    const token = await invite(a)
    const out = JSON.parse(await run(hosts[4]!, [ROGUE, 'member', lanAddr(a), token, b.ready.peer_id])) as Record<string, unknown> & { peer_id: string }
    assert.equal(out.honest, true, 'an honest answer with a real credential is accepted')
    assert.equal(out.replayed, false, 'the same answer to a new challenge is refused')
    assert.equal(out.stale, false, 'an answer with a stale timestamp is refused')
    assert.equal(out.honest_again, true)
    const rogue = await until(3_000, async () => await peerIn(a, out.peer_id), (p) => p?.capabilities?.seq === out.genuine_seq)
    assert.equal(rogue?.capabilities?.seq, out.genuine_seq, 'only its own genuine record was kept; the forged and older ones were dropped')
    assert.ok(rogue!.trust < 0.3, `two failed challenges and two forged records cost trust (got ${rogue!.trust})`)
    const victim = await peerIn(a, b.ready.peer_id)
    assert.equal(victim?.node_id, b.ready.node_id, 'a record forged in B\'s name did not replace B\'s')
    assert.ok(!(victim?.capabilities?.capabilities?.mcp?.supported_tools ?? []).includes('steal_secrets'))
  })

  it('a killed member turns offline on the others; restarted, it comes back online with the same peer id', async () => {
    const peerId = c.ready.peer_id
    await c.kill()
    const offline = await until(15_000, async () => await Promise.all([peerIn(a, peerId), peerIn(b, peerId)]), (ps) => ps.every((p) => p?.status === 'offline'))
    assert.deepEqual(offline.map((p) => p?.status), ['offline', 'offline'])
    c = await startIn(hosts[2]!, ['--discovery', '--name', 'member-c'], { dataDir: c.dataDir })
    assert.equal(c.ready.peer_id, peerId, 'same identity after restart')
    const back = await until(15_000, async () => await Promise.all([peerIn(a, peerId), peerIn(b, peerId)]), (ps) => ps.every(onlineMember))
    assert.deepEqual(back.map((p) => p?.status), ['online', 'online'])
  })

  it('a member that goes silent (its link cut, no TCP close) turns offline when its heartbeats stop, and online again when it answers', async () => {
    const peerId = b.ready.peer_id
    net.setLink(hosts[1]!, false)
    try {
      const silent = await until(15_000, async () => await peerIn(a, peerId), (p) => p?.status === 'offline')
      assert.equal(silent?.status, 'offline', 'offline after --peer-offline-after (5 s) without an answer')
    } finally {
      net.setLink(hosts[1]!, true)
    }
    const back = await until(20_000, async () => await peerIn(a, peerId), onlineMember)
    assert.equal(back?.status, 'online')
  })

  it('a node joins through --bootstrap alone (no mDNS) with EDGE_HIVE_JOIN_TOKEN at its first start', async () => {
    const token = await invite(a)
    const e = await startIn(hosts[4]!, ['--name', 'member-e', '--bootstrap', lanAddr(a)], { env: cleanEnv({ EDGE_HIVE_JOIN_TOKEN: token }) })
    const seen = await until(15_000, async () => await peerIn(a, e.ready.peer_id), onlineMember)
    assert.ok(onlineMember(seen), `A sees E online as a member; saw ${JSON.stringify(seen)}`)
    assert.equal((await membersOf(e)).hive_id, `hive-${a.ready.peer_id}`)
    assert.ok(!e.stdout.includes(token) && !e.stderr.includes(token), 'the join token is not logged')
    // The same invitation again: used up.
    await assert.rejects(cli(d, ['hive', 'join', token]), /used already|refused/)
  })

  it('removing a member spreads to the members connected now and to one that connects later', async () => {
    const e = [...nodeHost.keys()].find((n) => n.ready.node_id !== undefined && nodeHost.get(n) === hosts[4])!
    await c.stop()
    assert.match(await cli(a, ['hive', 'remove', e.ready.peer_id]), /removed/)
    const onB = await until(10_000, async () => await membersOf(b), (m) => m.removed.includes(e.ready.peer_id))
    assert.ok(onB.removed.includes(e.ready.peer_id), 'B heard of the removal')
    assert.equal((await peerIn(b, e.ready.peer_id))?.member ?? false, false)
    const onE = await until(10_000, async () => await membersOf(e), (m) => m.hive_id === null)
    assert.equal(onE.hive_id, null, 'the removed node knows it is out')
    c = await startIn(hosts[2]!, ['--discovery', '--name', 'member-c'], { dataDir: c.dataDir })
    const onC = await until(15_000, async () => await membersOf(c), (m) => m.removed.includes(e.ready.peer_id))
    assert.ok(onC.removed.includes(e.ready.peer_id), 'C, offline at the time, heard of it when it came back')
    const eOnA = await peerIn(a, e.ready.peer_id)
    assert.equal(eOnA?.status, 'untrusted')
  })
})
