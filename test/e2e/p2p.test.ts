import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Fleet, runCli, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { eventually } from '../helpers/eventually.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'

// Nodes on loopback (TCP and QUIC, no multicast): the libp2p host, bootstrap, the peers CLI.
// Membership, discovery and everything multi-host run in network namespaces (test/hive/).

interface PeerList { peers: Array<{ peer_id: string, status: string, member: boolean, trust: number, addresses: string[] }> }

async function callTool<T> (node: NodeProcess, name: string): Promise<T> {
  const op = operatorClient(node.dataDir)
  const token = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
  const res = await request1(`${node.url}/mcp/tools/call`, {
    ca: readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8'), method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name })
  })
  assert.equal(res.status, 200, res.body)
  return res.json<{ structuredContent: T }>().structuredContent
}

describe('the libp2p host', () => {
  const fleet = new Fleet()
  let a: NodeProcess
  let b: NodeProcess
  before(async () => {
    a = await fleet.start({ args: ['--name', 'p2p-a'] })
    b = await fleet.start({ args: ['--name', 'p2p-b', '--bootstrap', a.ready.p2p_addrs[0]!] })
  })
  after(async () => { await fleet.cleanup() })

  it('listens with the node\'s own identity: the peer id in its addresses is the node\'s', async () => {
    assert.ok(a.ready.p2p_addrs.length > 0)
    for (const addr of a.ready.p2p_addrs) {
      assert.match(addr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
      assert.ok(addr.endsWith(`/p2p/${a.ready.peer_id}`))
    }
    const info = (await request1(`${a.url}/mcp/node/info`)).json<{ capabilities: { p2p: { enabled: boolean, protocols: string[], listen_addrs: string[] } } }>()
    assert.equal(info.capabilities.p2p.enabled, true)
    assert.deepEqual(info.capabilities.p2p.listen_addrs, a.ready.p2p_addrs)
    assert.ok(info.capabilities.p2p.protocols.includes('/edge-hive/kad/1.0.0'))
    assert.ok(info.capabilities.p2p.protocols.includes('/ipfs/id/1.0.0'))
  })

  it('joins a bootstrap peer, and each side lists the other as untrusted until membership is proven', async () => {
    const seenByA = await eventually(async () => await callTool<PeerList>(a, 'list_peers'), (l) => l.peers.length > 0)
    assert.deepEqual(seenByA.peers.map((p) => p.peer_id), [b.ready.peer_id])
    assert.equal(seenByA.peers[0]!.status, 'untrusted')
    assert.equal(seenByA.peers[0]!.member, false, 'neither node belongs to a hive')
    assert.ok(seenByA.peers[0]!.trust < 0.5, 'a peer that is no member stays below half trust')
    const seenByB = await callTool<PeerList>(b, 'list_peers')
    assert.deepEqual(seenByB.peers.map((p) => p.peer_id), [a.ready.peer_id])
    const status = await callTool<{ peers: { total: number, online: number, members: number } }>(a, 'get_status')
    assert.deepEqual(status.peers, { total: 1, online: 0, members: 0 })
  })
})

describe('p2p settings', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('runs no libp2p host with --no-p2p', async () => {
    const node = await fleet.start({ args: ['--no-p2p'] })
    assert.deepEqual(node.ready.p2p_addrs, [])
    const info = (await request1(`${node.url}/mcp/node/info`)).json<{ capabilities: { p2p: { enabled: boolean, listen_addrs: string[] } } }>()
    assert.equal(info.capabilities.p2p.enabled, false)
    assert.deepEqual(info.capabilities.p2p.listen_addrs, [])
  })

  it('listens on QUIC (quic-v1) and another node connects over it', async () => {
    const q = await fleet.start({ args: ['--p2p-listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--name', 'p2p-quic'] })
    const addr = q.ready.p2p_addrs.find((x) => x.includes('/quic-v1/'))
    assert.ok(addr !== undefined, `a quic-v1 address; got ${JSON.stringify(q.ready.p2p_addrs)}`)
    const other = await fleet.start({ args: ['--name', 'p2p-quic-dialer', '--p2p-listen', '/ip4/127.0.0.1/udp/0/quic-v1'] })
    const c = await runCli(['peers', 'connect', addr, '--json', '--data-dir', other.dataDir])
    assert.equal(c.code, 0, c.stderr)
    assert.ok((JSON.parse(c.stdout) as { addresses: string[] }).addresses.some((x) => x.includes('/quic-v1')), c.stdout)
  })

  it('a node that listens on TCP only loads QUIC for a QUIC bootstrap address, and reaches it', async () => {
    const q = await fleet.start({ args: ['--p2p-listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--name', 'p2p-quic-boot'] })
    const addr = q.ready.p2p_addrs.find((x) => x.includes('/quic-v1/'))!
    const tcp = await fleet.start({ args: ['--name', 'p2p-tcp-boot', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', addr] })
    const seen = await eventually(async () => await callTool<PeerList>(q, 'list_peers'), (l) => l.peers.some((p) => p.peer_id === tcp.ready.peer_id))
    assert.ok(seen.peers.some((p) => p.peer_id === tcp.ready.peer_id))
  })

  it('a node that listens on TCP only does not load QUIC, and says so when asked to dial a QUIC address', async () => {
    const q = await fleet.start({ args: ['--p2p-listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--name', 'p2p-quic-target'] })
    const addr = q.ready.p2p_addrs.find((x) => x.includes('/quic-v1/'))!
    const tcp = await fleet.start({ args: ['--name', 'p2p-tcp-only', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'] })
    const c = await runCli(['peers', 'connect', addr, '--data-dir', tcp.dataDir])
    assert.equal(c.code, 1, c.stdout)
    assert.match(c.stderr, /does not listen on QUIC, so it cannot dial QUIC addresses/)
  })

  it('refuses a listen address that is neither TCP nor QUIC, and a bootstrap address without a peer id, with exit 2', async () => {
    const listen = await runCli(['serve', '--p2p-listen', '/ip4/127.0.0.1/udp/4001'])
    assert.equal(listen.code, 2)
    assert.match(listen.stderr, /p2pListen \(from flag --p2p-listen\)/)
    const boot = await runCli(['serve', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'])
    assert.equal(boot.code, 2)
    assert.match(boot.stderr, /bootstrap \(from flag --bootstrap\).*ending in \/p2p\/<peer id>/)
  })
})

describe('peers: the discovery routes and the CLI', () => {
  const fleet = new Fleet()
  let a: NodeProcess
  let b: NodeProcess
  const token = async (node: NodeProcess, scope: string): Promise<string> => {
    const op = operatorClient(node.dataDir)
    return (await getToken(node.url, op.client_id, op.client_secret, { scope })).json<{ access_token: string }>().access_token
  }
  before(async () => {
    [a, b] = await Promise.all([fleet.start({ args: ['--name', 'peers-a'] }), fleet.start({ args: ['--name', 'peers-b'] })])
  })
  after(async () => { await fleet.cleanup() })

  it('edge-hive peers connect <multiaddr> connects the running node, and peers list shows the peer', async () => {
    const before = await runCli(['peers', 'list', '--json', '--data-dir', a.dataDir])
    assert.equal(before.code, 0, before.stderr)
    assert.deepEqual(JSON.parse(before.stdout), { peers: [] })
    const c = await runCli(['peers', 'connect', b.ready.p2p_addrs[0]!, '--json', '--data-dir', a.dataDir])
    assert.equal(c.code, 0, c.stderr)
    assert.equal(JSON.parse(c.stdout).peer_id, b.ready.peer_id)
    const after = await runCli(['peers', 'list', '--data-dir', a.dataDir])
    assert.match(after.stdout, new RegExp(`^${b.ready.peer_id}\\s+-\\s+untrusted`))
    // By id alone, once the address is known.
    const again = await runCli(['peers', 'connect', b.ready.peer_id, '--data-dir', a.dataDir])
    assert.equal(again.code, 0, again.stderr)
  })

  it('GET /discovery/peers needs mcp:read; POST /discovery/connect needs mcp:admin and answers 404 unknown_peer for a peer it cannot find', async () => {
    const ca = readFileSync(join(a.dataDir, 'tls', 'cert.pem'), 'utf8')
    const read = await token(a, 'mcp:read')
    const peers = await request1(`${a.url}/discovery/peers`, { ca, headers: { authorization: `Bearer ${read}` } })
    assert.equal(peers.status, 200)
    assert.ok(Array.isArray(peers.json<{ peers: unknown[] }>().peers))
    const denied = await request1(`${a.url}/discovery/connect/${b.ready.peer_id}`, { ca, method: 'POST', headers: { authorization: `Bearer ${read}`, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(denied.status, 403)
    const admin = await token(a, 'mcp:admin')
    // A well-formed peer id nobody knows: no address, and the DHT (a and b only) has none.
    const stranger = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'
    const lost = await request1(`${a.url}/discovery/connect/${stranger}`, { ca, method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(lost.status, 404, lost.body)
    assert.equal(lost.json().error, 'unknown_peer')
    const malformed = await request1(`${a.url}/discovery/connect/not-a-peer`, { ca, method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(malformed.status, 400)
  })

  it('peers refuses clearly when no node runs on the data dir', async () => {
    const stopped = await fleet.start({ args: ['--store', 'mem://', '--no-p2p'] })
    await stopped.stop()
    const r = await runCli(['peers', 'list', '--data-dir', stopped.dataDir])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no running node holds/)
  })
})
