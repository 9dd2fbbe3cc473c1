import type { Connection, PrivateKey } from '@libp2p/interface'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { P2PHost } from './p2p-host.ts'
import type { PeerDirectory } from './peer-directory.ts'
import type { JsonFrames } from './protocols/framing.ts'
import { ProtocolViolation } from './protocols/framing.ts'
import { CAPS_PROTOCOL, MAX_ADVERTS, sealCapabilities, openCapabilities, pushAdverts, readAdverts, type AdvertEntry, type CapabilityDoc } from './protocols/caps.ts'
import type { GossipMessage } from './protocols/gossip.ts'
import { verifyChain } from './membership/credential.ts'
import { capabilityKey } from './dht-records.ts'

const DHT_PUT_TIMEOUT_MS = 10_000
/**
 * The DHT copy of the advert is for peers outside the hive's gossip (a node looking a member up
 * by peer id); it is put again when what it says changes, and otherwise this often, not on
 * every heartbeat: a put is a query to the 20 closest peers, who each verify it.
 */
const DHT_REFRESH_MS = 10 * 60_000

export interface AdvertComponents {
  host: P2PHost
  privateKey: PrivateKey
  peerId: string
  nodeId: string
  directory: PeerDirectory
  logger: Logger
  /** The node's current advert (the seed's document without peer_id, node_id and seq). */
  advert (): Record<string, unknown>
  /** This node's membership now. */
  membership (): { hiveId: string, chain: string[] } | undefined
  removed (): ReadonlySet<string>
  /** A member's chain was verified here; removals waiting for it apply. True when it turned out to be removed. */
  chainVerified (peer: string, path: string[]): Promise<boolean>
  /** Publishes on the hive's gossip topic (a no-op while this node is in no hive). */
  publish (m: GossipMessage): Promise<void>
  /** Opens a stream of `protocol` to a peer and runs `write` on it; failures are logged, not thrown. */
  send (peer: string, protocol: string, write: (f: JsonFrames) => Promise<void>): Promise<void>
}

export interface AdvertOptions {
  /** An advert older than this (by its `seq`, the signer's clock) is not news: dropped. */
  maxAgeMs: number
}

export type AdvertOutcome = 'accepted' | 'duplicate' | 'stale'

interface Known extends AdvertEntry { seq: number, chainKey: string }

/**
 * Capability adverts: this node's, signed and published on the hive's gossip every heartbeat
 * (the advert is the heartbeat: a fresh `seq` says the member is alive), and put in the DHT; and
 * every member's, checked (signed by the member it names, which proves its membership with its
 * chain; `seq` only grows; not older than `maxAgeMs`) and kept in the peer table, with the record
 * and chain so they can be passed to members that join later (`/edge-hive/caps/2.0.0`).
 */
export class Adverts {
  readonly #c: AdvertComponents
  readonly #o: AdvertOptions
  #seq = 0
  #current?: { doc: CapabilityDoc, record: string }
  readonly #known = new Map<string, Known>()
  #dht = { key: '', at: 0 }

  constructor (c: AdvertComponents, o: AdvertOptions) {
    this.#c = c
    this.#o = o
  }

  async current (): Promise<{ doc: CapabilityDoc, record: string }> {
    return this.#current ?? await this.#make()
  }

  async #make (extra: Record<string, unknown> = {}): Promise<{ doc: CapabilityDoc, record: string }> {
    // Milliseconds since 1970: it keeps growing across restarts without being stored, and says
    // when the advert was made (receivers drop old ones: a replay cannot pass for a heartbeat).
    this.#seq = Math.max(this.#seq + 1, Date.now())
    const doc: CapabilityDoc = { ...this.#c.advert(), ...extra, node_id: this.#c.nodeId, peer_id: this.#c.peerId, seq: this.#seq }
    this.#current = { doc, record: await sealCapabilities(this.#c.privateKey, doc) }
    return this.#current
  }

  /** Makes a fresh advert and publishes it to the hive (the heartbeat); puts it in the DHT when it changed. */
  async announce (): Promise<CapabilityDoc> {
    const { doc, record } = await this.#make()
    const m = this.#c.membership()
    if (m !== undefined) {
      await this.#c.publish({ advert: { record, chain: m.chain } })
      void this.#putInDht(doc, record)
    }
    return doc
  }

  /** This node is stopping: members list it offline now rather than when its heartbeats stop. */
  async leaving (): Promise<void> {
    const m = this.#c.membership()
    if (m === undefined) return
    const { record } = await this.#make({ status: 'leaving' })
    await this.#c.publish({ advert: { record, chain: m.chain } })
  }

  /** Sends `peer` (a member that just proved itself) every advert this node holds, its own first. */
  async sendTo (peer: string): Promise<void> {
    const m = this.#c.membership()
    if (m === undefined) return
    const own = { record: (await this.current()).record, chain: m.chain }
    const others = [...this.#known.entries()].filter(([p]) => p !== peer && this.#c.directory.isMember(p)).map(([, k]) => ({ record: k.record, chain: k.chain }))
    await this.#c.send(peer, CAPS_PROTOCOL, async (f) => { await pushAdverts(f, [own, ...others]) })
  }

  /** Adverts from a member that proved itself on this connection (the caller checked). */
  async receive (f: JsonFrames, conn: Connection): Promise<void> {
    const from = conn.remotePeer.toString()
    await readAdverts(f, async (e) => { await this.accept(e, from) })
    await f.close()
  }

  /**
   * An advert from gossip or from a member's `caps` stream. Throws ProtocolViolation when it is
   * forged (a record or chain that does not verify, or a record not signed by the member it
   * names): whoever passed it on did not check it, which an honest member always does.
   */
  async accept (e: AdvertEntry, _from: string): Promise<AdvertOutcome> {
    const m = this.#c.membership()
    if (m === undefined) return 'stale'
    const doc = await openCapabilities(e.record)
    const peer = doc.peer_id
    if (peer === this.#c.peerId) return 'duplicate'
    if (this.#c.removed().has(peer)) return 'stale'
    const known = this.#known.get(peer)
    if (known !== undefined && doc.seq <= known.seq) return doc.seq === known.seq ? 'duplicate' : 'stale'
    if (doc.seq < Date.now() - this.#o.maxAgeMs) return 'stale'
    const chainKey = e.chain.join('.')
    if (known?.chainKey !== chainKey) {
      const check = await verifyChain(e.chain, m.hiveId, peer, this.#c.removed())
      if (!check.ok) {
        if (check.reason === 'other_hive' || check.reason === 'removed') return 'stale'
        throw new ProtocolViolation(`an advert with a forged or malformed membership chain (${check.reason})`)
      }
      if (await this.#c.chainVerified(peer, check.path)) return 'stale'
    }
    const outcome = this.#c.directory.capabilities(peer, doc)
    if (outcome !== 'accepted') return outcome
    if (known === undefined && this.#known.size >= MAX_ADVERTS) this.#known.delete(this.#known.keys().next().value!)
    this.#known.set(peer, { record: e.record, chain: e.chain, seq: doc.seq, chainKey })
    const p2p = (doc.capabilities as { p2p?: { listen_addrs?: unknown } } | undefined)?.p2p
    if (Array.isArray(p2p?.listen_addrs)) this.#c.directory.addresses(peer, p2p.listen_addrs.filter((a): a is string => typeof a === 'string'))
    if (doc.status === 'leaving') this.#c.directory.left(peer)
    return 'accepted'
  }

  /** A member was removed, or this node left (`undefined`): its adverts are not passed on any more. */
  forget (peer?: string): void {
    if (peer === undefined) this.#known.clear()
    else this.#known.delete(peer)
  }

  async #putInDht (doc: CapabilityDoc, record: string): Promise<void> {
    const { seq: _s, metadata, ...rest } = doc
    const { uptime: _u, load: _l, ...meta } = (metadata ?? {}) as Record<string, unknown>
    const key = JSON.stringify([rest, meta])
    if (key === this.#dht.key && Date.now() - this.#dht.at < DHT_REFRESH_MS) return
    this.#dht = { key, at: Date.now() }
    const dht = (this.#c.host.libp2p?.services as { dht?: { put: (k: Uint8Array, v: Uint8Array, o: { signal: AbortSignal }) => AsyncIterable<unknown> } } | undefined)?.dht
    if (dht === undefined) return
    try {
      for await (const _ of dht.put(capabilityKey(this.#c.peerId), new Uint8Array(Buffer.from(record, 'base64url')), { signal: AbortSignal.timeout(DHT_PUT_TIMEOUT_MS) })) { /* progress events */ }
    } catch (err) {
      this.#dht.at = 0
      this.#c.logger.debug({ err: messageOf(err) }, 'advert not put in the DHT (no DHT peers yet)')
    }
  }
}
