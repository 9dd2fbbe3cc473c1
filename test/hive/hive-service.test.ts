import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Connection, IdentifyResult, PeerId } from '@libp2p/interface'
import { HiveService, type HiveServiceComponents } from '../../src/hive/hive-service.ts'
import { JsonFrames } from '../../src/hive/protocols/framing.ts'
import { eventually } from '../helpers/eventually.ts'

const PROTOCOL = '/edge-hive-test/echo/1.0.0'

/** Two real libp2p nodes on loopback: `a` runs a HiveService that echoes one JSON frame, `b` is a plain peer. */
describe('a hive service in libp2p (the way the hive and forwarding are served)', () => {
  const nodes: Libp2p[] = []
  after(async () => { await Promise.all(nodes.map(async (n) => { await n.stop() })) })

  const seen = { opened: [] as Connection[], disconnected: [] as PeerId[], identified: [] as IdentifyResult[], stopped: 0 }
  const plain = async (): Promise<Libp2p<{ identify: ReturnType<ReturnType<typeof identify>> }>> => {
    const n = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
    nodes.push(n)
    return n
  }

  it('serves its protocols from the start, hears connections come and go and what identify learnt, and serves and hears nothing once stopped', async () => {
    const a = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        echo: (c: HiveServiceComponents) => new HiveService(c, {
          name: '@edge-hive/test-echo',
          dependencies: ['@libp2p/identify'],
          protocols: [{
            protocol: PROTOCOL,
            handler: (stream) => {
              const f = new JsonFrames(stream)
              void f.read().then(async (m) => { await f.write({ echo: m }); await f.close() })
            }
          }],
          opened: (conn) => { seen.opened.push(conn) },
          disconnected: (peer) => { seen.disconnected.push(peer) },
          identified: (r) => { seen.identified.push(r) },
          stopped: () => { seen.stopped++ }
        })
      }
    })
    nodes.push(a)
    const b = await plain()
    assert.ok(a.getProtocols().includes(PROTOCOL), 'the handler is in place once the node started')

    const f = new JsonFrames(await b.dialProtocol(a.getMultiaddrs()[0]!, PROTOCOL))
    await f.write({ hello: 1 })
    assert.deepEqual(await f.read(), { echo: { hello: 1 } })
    assert.equal(seen.opened.length, 1)
    assert.equal(seen.opened[0]!.remotePeer.toString(), b.peerId.toString())
    assert.ok(await eventually(() => seen.identified.length, (n) => n > 0, 30_000, 50) > 0, 'identify told the service about the peer')
    assert.equal(seen.identified[0]!.peerId.toString(), b.peerId.toString())

    await b.hangUp(a.peerId)
    assert.equal(await eventually(() => seen.disconnected.length, (n) => n > 0, 30_000, 50), 1, 'the close of the last connection was heard')
    assert.equal(seen.disconnected[0]!.toString(), b.peerId.toString())

    const service = a.services.echo
    await service.stop()
    await service.stop()
    assert.equal(seen.stopped, 1, 'a second stop does nothing')
    assert.equal(a.getProtocols().includes(PROTOCOL), false, 'the handler is gone')
    await assert.rejects(b.dialProtocol(a.getMultiaddrs()[0]!, PROTOCOL), 'a peer can no longer open the protocol')
    await b.hangUp(a.peerId)
    assert.equal(await eventually(() => a.getConnections(b.peerId).length, (n) => n === 0, 30_000, 50), 0)
    assert.equal(seen.opened.length, 1, 'no connection heard of after the stop')
    assert.equal(seen.disconnected.length, 1)
  })

  it('is refused by libp2p when a service it builds on is missing (here: ping)', async () => {
    await assert.rejects(createLibp2p({
      start: false,
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { needsPing: (c: HiveServiceComponents) => new HiveService(c, { name: '@edge-hive/test-needs-ping', dependencies: ['@libp2p/ping'], protocols: [] }) }
    }), /Service "@edge-hive\/test-needs-ping" required capability "@libp2p\/ping"/)
  })
})
