import type { Connection, PrivateKey } from '@libp2p/interface'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { P2PHost } from './p2p-host.ts'
import type { PeerDirectory } from './peer-directory.ts'
import type { JsonFrames } from './protocols/framing.ts'
import { ProtocolViolation } from './protocols/framing.ts'
import { CAPS_PROTOCOL, sealCapabilities, openCapabilities, pushCapabilities, type CapabilityDoc } from './protocols/caps.ts'
import { capabilityKey } from './dht-records.ts'

const DHT_PUT_TIMEOUT_MS = 10_000

export interface AdvertComponents {
  host: P2PHost
  privateKey: PrivateKey
  peerId: string
  nodeId: string
  directory: PeerDirectory
  logger: Logger
  /** The node's current advert (the seed's document without peer_id, node_id and seq). */
  advert (): Record<string, unknown>
  /** Whether this node belongs to a hive now (adverts go to the DHT only then). */
  member (): boolean
  /** Opens a stream of `protocol` to a peer and runs `write` on it; failures are logged, not thrown. */
  send (peer: string, protocol: string, write: (f: JsonFrames) => Promise<void>): Promise<void>
}

/**
 * Capability adverts: this node's, signed, sent to members (`/edge-hive/caps/1.0.0`) and put in
 * the DHT; members' adverts received and kept in the peer table.
 */
export class Adverts {
  readonly #c: AdvertComponents
  #seq = 0
  #current?: { doc: CapabilityDoc, record: string }

  constructor (c: AdvertComponents) {
    this.#c = c
  }

  async current (): Promise<{ doc: CapabilityDoc, record: string }> {
    return this.#current ?? await this.#make()
  }

  async #make (): Promise<{ doc: CapabilityDoc, record: string }> {
    // Time-based, so it keeps growing across restarts without being stored.
    this.#seq = Math.max(this.#seq + 1, Date.now())
    const doc: CapabilityDoc = { ...this.#c.advert(), node_id: this.#c.nodeId, peer_id: this.#c.peerId, seq: this.#seq }
    this.#current = { doc, record: await sealCapabilities(this.#c.privateKey, doc) }
    return this.#current
  }

  async sendTo (peer: string, record?: string): Promise<void> {
    const r = record ?? (await this.current()).record
    await this.#c.send(peer, CAPS_PROTOCOL, async (f) => { await pushCapabilities(f, r) })
  }

  /** Makes a fresh advert, sends it to every proven member and puts it in the DHT; returns it. */
  async announce (): Promise<CapabilityDoc> {
    const { doc, record } = await this.#make()
    await Promise.all(this.#c.directory.trustedPeers().map(async (p) => { await this.sendTo(p, record) }))
    void this.#putInDht(record)
    return doc
  }

  async #putInDht (record: string): Promise<void> {
    const dht = (this.#c.host.libp2p?.services as { dht?: { put: (k: Uint8Array, v: Uint8Array, o: { signal: AbortSignal }) => AsyncIterable<unknown> } } | undefined)?.dht
    if (dht === undefined || !this.#c.member()) return
    try {
      for await (const _ of dht.put(capabilityKey(this.#c.peerId), new Uint8Array(Buffer.from(record, 'base64url')), { signal: AbortSignal.timeout(DHT_PUT_TIMEOUT_MS) })) { /* progress events */ }
    } catch (err) {
      this.#c.logger.debug({ err: messageOf(err) }, 'advert not put in the DHT (no DHT peers yet)')
    }
  }

  /** A member's advert arrived (the caller checked that the sender proved membership). */
  async receive (f: JsonFrames, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const m = await f.read()
    const doc = await openCapabilities(m.record, peer)
    const outcome = this.#c.directory.capabilities(peer, doc)
    if (outcome === 'stale') throw new ProtocolViolation('a capability record whose sequence went backwards')
    const p2p = (doc.capabilities as { p2p?: { listen_addrs?: unknown } } | undefined)?.p2p
    if (Array.isArray(p2p?.listen_addrs)) this.#c.directory.addresses(peer, p2p.listen_addrs.filter((a): a is string => typeof a === 'string'))
    await f.close()
  }
}
