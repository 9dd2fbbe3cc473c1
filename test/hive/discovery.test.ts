import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Fleet, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { TestNetwork, netnsUnavailable, type TestHost } from './netns.ts'

const exec = promisify(execFile)
const PEERS = fileURLToPath(new URL('../fixtures/hive-peers.ts', import.meta.url))
const BROWSE = fileURLToPath(new URL('../fixtures/dns-sd-browse.ts', import.meta.url))
const INSTANCE = (nodeId: string): string => `${nodeId}._edge-hive._tcp.local`

interface Browse { instances: Record<string, { port?: number, txt: Record<string, string> }>, goodbyes: string[] }

// Several hosts on one machine, each in its own network namespace on a private bridge: the only
// place where these tests send multicast.
const unavailable = netnsUnavailable()

describe('LAN discovery (--discovery) between hosts in network namespaces', { skip: unavailable ?? false }, () => {
  const fleet = new Fleet()
  let net: TestNetwork
  let a: NodeProcess
  let b: NodeProcess
  let quiet: NodeProcess
  let observer: TestHost

  const inHost = async (host: TestHost, argv: string[]): Promise<string> => {
    const { cmd, args } = net.command(host, [process.execPath, ...argv])
    return (await exec(cmd, args, { timeout: 30_000 })).stdout
  }
  const peersOf = async (node: NodeProcess, host: TestHost): Promise<string[]> =>
    (JSON.parse(await inHost(host, [PEERS, node.dataDir, node.url])) as { peers: Array<{ peer_id: string }> }).peers.map((p) => p.peer_id)
  const startIn = async (host: TestHost, args: string[]): Promise<NodeProcess> =>
    await fleet.start({ args: ['--p2p-listen', '/ip4/0.0.0.0/tcp/4001', ...args], wrap: (argv) => net.command(host, argv) })

  before(async () => {
    net = TestNetwork.create(4)
    const [h1, h2, h3, h4] = net.hosts as [TestHost, TestHost, TestHost, TestHost]
    observer = h3
    ;[a, b, quiet] = await Promise.all([startIn(h1, ['--discovery', '--name', 'lan-a']), startIn(h2, ['--discovery', '--name', 'lan-b']), startIn(h4, ['--name', 'lan-quiet'])])
  })
  after(async () => {
    await fleet.cleanup()
    net?.destroy()
  })

  it('finds the other --discovery node over mDNS and connects to it, and ignores a node without --discovery', async () => {
    const [seenByA, seenByB] = await eventually(async () => await Promise.all([peersOf(a, net.hosts[0]!), peersOf(b, net.hosts[1]!)]),
      ([byA, byB]) => byA.includes(b.ready.peer_id) && byB.includes(a.ready.peer_id), 20_000, 500)
    assert.ok(seenByA.includes(b.ready.peer_id), `A sees B; A saw ${JSON.stringify(seenByA)}`)
    assert.ok(seenByB.includes(a.ready.peer_id), `B sees A; B saw ${JSON.stringify(seenByB)}`)
    assert.ok(!seenByA.includes(quiet.ready.peer_id), 'a node without --discovery is not found')
    assert.deepEqual(await peersOf(quiet, net.hosts[3]!), [], 'and it finds nobody')
  })

  it('announces _edge-hive._tcp over DNS-SD with the seed\'s TXT properties; a node without --discovery does not', async () => {
    const seen = JSON.parse(await inHost(observer, [BROWSE, '4'])) as Browse
    for (const node of [a, b]) {
      const inst = seen.instances[INSTANCE(node.ready.node_id)]
      assert.ok(inst !== undefined, `${node.ready.node_id} is listed; saw ${JSON.stringify(Object.keys(seen.instances))}`)
      assert.equal(inst.port, Number(new URL(node.url).port))
      assert.equal(inst.txt.node_id, node.ready.node_id)
      assert.equal(inst.txt.peer_id, node.ready.peer_id)
      assert.equal(inst.txt.mcp_enabled, 'true')
      assert.equal(inst.txt.oauth2_enabled, 'true')
      assert.equal(inst.txt.path, '/mcp', 'the MCP endpoint\'s path (issue 16)')
      assert.match(inst.txt.version ?? '', /^\d+\.\d+\.\d+$/)
    }
    assert.equal(seen.instances[INSTANCE(quiet.ready.node_id)], undefined)
  })

  it('withdraws its DNS-SD record with a goodbye when it stops', async () => {
    const browsing = inHost(observer, [BROWSE, '4'])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.equal((await a.stop()).code, 0)
    const seen = JSON.parse(await browsing) as Browse
    assert.ok(seen.goodbyes.includes(INSTANCE(a.ready.node_id)), `goodbye for A; saw ${JSON.stringify(seen.goodbyes)}`)
    assert.ok(!seen.goodbyes.includes(INSTANCE(b.ready.node_id)))
  })
})
