import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI, Fleet, cleanEnv, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { TestNetwork, natUnavailable, type TestHost } from './netns.ts'

const exec = promisify(execFile)
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
const PEERS = fixture('hive-peers.ts')
const AUDIT = fixture('hive-audit.ts')
const CLIENT_HIVE = fixture('mcp-client-hive.ts')
const STRANGER = fixture('hive-relay-stranger.ts')
const MEMBER_CALL = fixture('hive-member-call.ts')

interface Peer { peer_id: string, status: string, member: boolean, capabilities?: { capabilities?: { mcp?: unknown, p2p?: { listen_addrs?: string[] } } } }
interface AuditRow { action: string, target?: string, detail?: Record<string, unknown> }

const unavailable = natUnavailable()

// A hive of four: A (the founder), B and C on a bridge, each reachable by the others; D behind a
// NAT router (host 4, an nftables masquerade) that lets D out but nothing in, and whose egress
// rule also drops D's traffic to A, so that A can reach D only through a member relay (DCUtR
// cannot help here either: it dials public addresses only, and these are private). D joins
// through B, reserves a slot on B, and advertises `<B>/p2p-circuit/p2p/<D>`.
describe('a member behind NAT is reached through a member relay', { skip: unavailable ?? false }, () => {
  const fleet = new Fleet()
  let net: TestNetwork
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let d: NodeProcess
  const hostOf = new Map<NodeProcess, TestHost>()

  const run = async (host: TestHost, argv: string[], env?: Record<string, string>): Promise<string> => {
    const { cmd, args } = net.command(host, [process.execPath, ...argv])
    return (await exec(cmd, args, { timeout: 60_000, env: env ?? cleanEnv() })).stdout
  }
  const cli = async (node: NodeProcess, args: string[]): Promise<string> => await run(hostOf.get(node)!, [CLI, ...args, '--data-dir', node.dataDir])
  const peerIn = async (node: NodeProcess, peerId: string): Promise<Peer | undefined> =>
    (JSON.parse(await run(hostOf.get(node)!, [PEERS, node.dataDir, node.url])) as { peers: Peer[] }).peers.find((p) => p.peer_id === peerId)
  const invite = async (node: NodeProcess): Promise<string> => (JSON.parse(await cli(node, ['hive', 'invite', '--json'])) as { token: string }).token
  const addr = (node: NodeProcess): string => `/ip4/${hostOf.get(node)!.ip}/tcp/4001/p2p/${node.ready.peer_id}`
  const startIn = async (host: TestHost, args: string[], env?: Record<string, string>): Promise<NodeProcess> => {
    const dataDir = fleet.tempDir()
    const n = await fleet.start({
      dataDir,
      args: ['--p2p-listen', '/ip4/0.0.0.0/tcp/4001', '--peer-offline-after', '5s', '--log-level', 'info', ...args],
      wrap: (argv) => net.command(host, argv),
      ...(env === undefined ? {} : { env })
    })
    hostOf.set(n, host)
    return n
  }
  const onlineMember = (p: Peer | undefined): boolean => p?.status === 'online' && p.member && p.capabilities?.capabilities?.mcp !== undefined

  before(async () => {
    net = TestNetwork.create(4)
    const [ha, hb, hc, router] = net.hosts as [TestHost, TestHost, TestHost, TestHost]
    const hd = net.behindNat(router, [ha.ip])
    a = await startIn(ha, ['--name', 'member-a'])
    await cli(a, ['hive', 'init'])
    ;[b, c] = await Promise.all([
      startIn(hb, ['--name', 'member-b', '--bootstrap', addr(a)], cleanEnv({ EDGE_HIVE_JOIN_TOKEN: await invite(a) })),
      startIn(hc, ['--name', 'member-c', '--bootstrap', addr(a), '--no-p2p-relay'], cleanEnv({ EDGE_HIVE_JOIN_TOKEN: await invite(a) }))
    ])
    await eventually(async () => await peerIn(a, b.ready.peer_id), onlineMember, 20_000, 250)
    d = await startIn(hd, ['--name', 'member-d', '--bootstrap', addr(b), '--p2p-reachability', 'private', '--hive-scopes', 'mcp:read,mcp:call'],
      cleanEnv({ EDGE_HIVE_JOIN_TOKEN: await invite(b) }))
  })
  after(async () => {
    await fleet.cleanup()
    net?.destroy()
  })

  it('the NAT lets D out and nothing in', async () => {
    const dial = (host: TestHost, ip: string): Promise<string> => run(host, [
      '-e',
      `require('node:net').connect({ host: '${ip}', port: 4001, timeout: 2000 }).on('connect', () => { console.log('open'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) }).on('timeout', () => { console.log('timeout'); process.exit(0) })`
    ])
    assert.notEqual((await dial(hostOf.get(a)!, hostOf.get(d)!.ip)).trim(), 'open', 'A cannot open a connection to D')
    assert.equal((await dial(hostOf.get(d)!, hostOf.get(b)!.ip)).trim(), 'open', 'D can open one to B')
    assert.notEqual((await dial(hostOf.get(d)!, hostOf.get(a)!.ip)).trim(), 'open', 'D cannot open one to A (the egress rule)')
  })

  it('D joins through B, reserves a slot on B (a member relay) and advertises its relayed address', async () => {
    const started = Date.now()
    const seen = await eventually(async () => await peerIn(a, d.ready.peer_id),
      (p) => onlineMember(p) && (p!.capabilities?.capabilities?.p2p?.listen_addrs ?? []).some((x) => x.includes('/p2p-circuit')), 30_000, 250)
    const addrs = seen?.capabilities?.capabilities?.p2p?.listen_addrs ?? []
    assert.ok(onlineMember(seen), `A sees D online as a member; saw ${JSON.stringify(seen)}`)
    assert.ok(addrs.includes(`${addr(b)}/p2p-circuit/p2p/${d.ready.peer_id}`), `D's advert names its relayed address on B; saw ${JSON.stringify(addrs)}`)
    process.stdout.write(`# D online on A with a relayed address after ${Date.now() - started} ms\n`)
  })

  it('an agent with a token of A lists and calls D\'s tools through A; A reaches D through the relay, and proves it there', async () => {
    const started = Date.now()
    const call = JSON.parse(await run(hostOf.get(a)!, [MEMBER_CALL, a.dataDir, a.url, d.ready.node_id])) as { token: string, status: number, body: string }
    const first = Date.now() - started
    assert.equal(call.status, 200, call.body)
    assert.equal((JSON.parse(call.body) as { structuredContent: { node_id: string } }).structuredContent.node_id, d.ready.node_id, 'the REST route ran get_status on D')
    const again = Date.now()
    const out = JSON.parse(await run(hostOf.get(a)!, [CLIENT_HIVE, `${a.url}/mcp/node/${d.ready.node_id}/mcp`, call.token, 'auto'],
      cleanEnv({ NODE_EXTRA_CA_CERTS: join(a.dataDir, 'tls', 'cert.pem') }))) as Record<string, any>
    const sdk = Date.now() - again
    assert.equal(out.error, undefined, `connected: ${String(out.error)}`)
    assert.match(String(out.instructions), new RegExp(d.ready.node_id), 'D answered')
    assert.ok((out.tools as string[]).includes('get_status'))
    assert.equal(out.status.node_id, d.ready.node_id, 'get_status ran on D')
    const lines = a.stdout.split('\n').filter((l) => l.includes(d.ready.peer_id))
    const relayed = lines.find((l) => l.includes('connected through a member relay'))
    assert.ok(relayed !== undefined, 'A\'s connection to D went through a relay')
    assert.match(relayed, new RegExp(`${b.ready.peer_id}/p2p-circuit`), 'through B')
    const direct = lines.some((l) => l.includes('(DCUtR)'))
    assert.equal(direct, false, 'no direct connection: the NAT and the egress rule leave only the relay')
    process.stdout.write(`# through A to D: the first REST call (token, dial through the relay, proof) ${first} ms; the SDK client's whole run ${sdk} ms; direct upgrade: ${direct}\n`)
  })

  it('a peer without a credential can neither reserve a slot on a member relay nor be relayed to a member', async () => {
    const out = JSON.parse(await run(hostOf.get(c)!, [STRANGER, addr(b), d.ready.peer_id])) as Record<string, unknown>
    assert.equal(out.error, undefined, String(out.error))
    assert.equal(out.reserved, false, 'no reservation')
    assert.equal(out.relayed, false, `not relayed to D: ${String(out.relay_error)}`)
    const rows = await eventually(async () => JSON.parse(await run(hostOf.get(b)!, [AUDIT, b.dataDir, b.url, b.ready.node_id])) as AuditRow[],
      (r) => r.some((x) => x.action === 'hive.relay_refused'), 10_000, 250)
    assert.ok(rows.some((x) => x.action === 'hive.relay_refused'), 'B audited the refusal')
  })
})
