import type { Connection, PrivateKey } from '@libp2p/interface'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerDirectory } from './peer-directory.ts'
import type { JsonFrames } from './protocols/framing.ts'
import { ProtocolViolation } from './protocols/framing.ts'
import { CAPS_PROTOCOL, MAX_ADVERTS, MAX_WANT, offerOf, sealCapabilities, openCapabilities, pushAdverts, requestAdverts, serveAdverts, type AdvertEntry, type CapabilityDoc } from './protocols/caps.ts'
import { openBeat, sealBeat, type GossipMessage } from './protocols/gossip.ts'
import { verifyChain } from './membership/credential.ts'
import { capabilityKey } from './dht-records.ts'

const DHT_PUT_TIMEOUT_MS = 10_000
/**
 * The DHT copy of the advert is for peers outside the hive's gossip (a node looking a member up
 * by peer id); it is put again when what it says changes, and otherwise this often, not on
 * every heartbeat: a put is a query to the 20 closest peers, who each verify it.
 */
const DHT_REFRESH_MS = 10 * 60_000
/** The first put of the advert in the DHT comes this long after start, or up to twice as long. */
const DHT_FIRST_PUT_MS = 2 * 60_000
/**
 * Between heartbeats, which are small, the whole advert goes out when what it offers changes and
 * otherwise this seldom (more seldom in a big hive: see `beat`), as a repair only: each heartbeat
 * names the seq of the member's current advert (a member that missed it asks for it) and carries
 * the load and uptime that change in between. Whole adverts every minute were, measured at 30
 * members at rest, a third of the hive's gossip messages and most of its bytes.
 */
const ADVERT_EVERY_MS = 10 * 60_000
/** ...and in a hive of n members, every n × this, so the hive as a whole sends at most one every 10 s. */
const ADVERT_SPREAD_MS = 10_000
/** Missing adverts are asked for together after this; the same member's again only after WANT_AGAIN_MS. */
const WANT_GATHER_MS = 200
const WANT_AGAIN_MS = 5_000

export interface AdvertComponents {
  /** libp2p's DHT (undefined before the host starts). */
  dht (): KadDHT | undefined
  privateKey: PrivateKey
  peerId: string
  nodeId: string
  directory: PeerDirectory
  logger: Logger
  /** The node's current advert (the info document without peer_id, node_id and seq). */
  advert (): Record<string, unknown>
  /** The node's load now (carried by each heartbeat). */
  load (): Record<string, number>
  /** Members known (a big hive sends whole adverts less often). */
  members (): number
  /** This node's membership now. */
  membership (): { hiveId: string, chain: string[] } | undefined
  removed (): ReadonlySet<string>
  /** A member's chain was verified here; removals waiting for it apply. True when it turned out to be removed. */
  chainVerified (peer: string, path: string[]): Promise<boolean>
  /** A member's advert was taken here for the first time (the member is known from now on). */
  met (peer: string): void
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

interface Known extends AdvertEntry {
  /** The advert's seq. */
  seq: number
  /** The highest seq heard from the member, advert or heartbeat: anything not above it is old news. */
  last: number
  chainKey: string
}

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
  /** The first put in the DHT waits until then (see #putInDht); spread so members started together do not put together. */
  readonly #dhtFrom = Date.now() + DHT_FIRST_PUT_MS * (1 + Math.random())
  #dhtTimer?: NodeJS.Timeout
  #published = { offer: '', at: 0 }
  /**
   * Heartbeats still to send as whole adverts. A member that just joined or restarted is not
   * known to members yet, and a member relays a heartbeat only from a member it holds the advert
   * of (it cannot check the membership of others): whole adverts, which prove themselves, reach
   * the whole hive at once instead of one hop per heartbeat.
   */
  #wholeBeats = 0
  #timer?: NodeJS.Timeout
  #stopped = false
  #lastSent = 0
  /** Members whose advert was asked for, and when; members to ask each relaying member for. */
  readonly #asked = new Map<string, number>()
  readonly #wants = new Map<string, Set<string>>()

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

  /**
   * Makes a fresh advert and publishes it to the hive; puts it in the DHT when it changed (`now`:
   * the operator asked, so also in the node's first minutes).
   */
  async announce (now = false): Promise<CapabilityDoc> {
    const { doc, record } = await this.#make()
    const m = this.#c.membership()
    if (m !== undefined) {
      this.#published = { offer: offerOf(doc), at: Date.now() }
      this.#lastSent = Date.now()
      await this.#c.publish({ advert: { record, chain: m.chain } })
      void this.#putInDht(doc, record, now)
    }
    return doc
  }

  /**
   * The heartbeat: the whole advert when what it offers changed or it is due (every
   * ADVERT_EVERY_MS, or members × ADVERT_SPREAD_MS in a big hive), else a small signed beat
   * with the current advert's seq, the load and the uptime.
   */
  async beat (): Promise<void> {
    const m = this.#c.membership()
    if (m === undefined) return
    this.#lastSent = Date.now()
    const due = Date.now() - this.#published.at >= Math.max(ADVERT_EVERY_MS, this.#c.members() * ADVERT_SPREAD_MS)
    const now = this.#c.advert()
    const changed = offerOf({ ...now, node_id: this.#c.nodeId, peer_id: this.#c.peerId }) !== this.#published.offer
    if (this.#current === undefined || this.#wholeBeats > 0 || due || changed) {
      this.#wholeBeats = Math.max(0, this.#wholeBeats - 1)
      await this.announce()
      return
    }
    this.#seq = Math.max(this.#seq + 1, Date.now())
    await this.#c.publish({
      beat: await sealBeat(this.#c.privateKey, m.hiveId, {
        seq: this.#seq, advert: this.#current.doc.seq, load: this.#c.load(), ...(typeof now.uptime === 'number' ? { uptime: now.uptime } : {})
      })
    })
  }

  /** Starts the heartbeat: `beat` every `interval()` ms, jittered by ±10 % so members started together do not beat together. */
  startBeating (interval: () => number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      void this.beat().catch((err: unknown) => this.#c.logger.debug({ err: messageOf(err) }, 'heartbeat not sent'))
        .finally(() => { this.startBeating(interval) })
    }, Math.round(interval() * (0.9 + 0.2 * Math.random()))).unref()
  }

  stopBeating (): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    clearTimeout(this.#dhtTimer)
  }

  /** A whole advert now (this node joined the hive's mesh, or was suspected), unless one went out in the last second. */
  async speakUp (): Promise<void> {
    if (this.#stopped || Date.now() - this.#lastSent < 1000) return
    await this.announce().catch((err: unknown) => this.#c.logger.debug({ err: messageOf(err) }, 'advert not sent'))
  }

  /** Joined the hive's gossip mesh: a whole advert now while this node is introducing itself (see `introduce`). */
  async greet (): Promise<void> {
    if (this.#wholeBeats > 0) await this.speakUp()
  }

  /**
   * This node just joined the hive, or started as a member: its next heartbeat is a whole advert
   * (as is the one when it joins the hive's mesh). One is enough: a member that still lacks it
   * asks for it when a heartbeat of this node reaches it. Three, before, were most of what a
   * freshly formed hive of 30 sent in its first minute (measured: 17 → 8 KiB/s per member).
   */
  introduce (): void {
    this.#wholeBeats = 1
  }

  /**
   * A heartbeat from gossip: the member is up. Taken only from a member whose advert this node
   * holds (that is where its membership was checked); otherwise `unknown`, and the advert is
   * asked of the member that relayed the heartbeat.
   */
  async acceptBeat (record: string, via: string): Promise<AdvertOutcome | 'unknown'> {
    const m = this.#c.membership()
    if (m === undefined) return 'stale'
    const b = await openBeat(record, m.hiveId)
    if (b === undefined || this.#c.removed().has(b.by)) return 'stale'
    if (b.by === this.#c.peerId) return 'duplicate'
    const known = this.#known.get(b.by)
    if (known === undefined) {
      this.#want(b.by, via)
      return 'unknown'
    }
    if (b.seq <= known.last) return b.seq === known.last ? 'duplicate' : 'stale'
    if (b.seq < Date.now() - this.#o.maxAgeMs) return 'stale'
    known.last = b.seq
    // The member's advert changed and its gossip did not reach this node: ask for it (`via`
    // may not have it yet either; the next heartbeat asks again, WANT_AGAIN_MS apart).
    if (b.advert > known.seq) this.#want(b.by, via)
    this.#c.directory.heard(b.by, b.load, b.uptime)
    return 'accepted'
  }

  /** This node is stopping: members list it offline now rather than when its heartbeats stop. */
  async leaving (): Promise<void> {
    const m = this.#c.membership()
    if (m === undefined) return
    const { record } = await this.#make({ status: 'leaving' })
    await this.#c.publish({ advert: { record, chain: m.chain } })
  }

  /** Sends `peer` (a member that just proved itself) this node's advert, and with `all` every advert this node holds. */
  async sendTo (peer: string, all: boolean): Promise<void> {
    const m = this.#c.membership()
    if (m === undefined) return
    const own = { record: (await this.current()).record, chain: m.chain }
    const others = !all ? [] : [...this.#known.entries()].filter(([p]) => p !== peer && this.#c.directory.isMember(p)).map(([, k]) => ({ record: k.record, chain: k.chain }))
    await this.#c.send(peer, CAPS_PROTOCOL, async (f) => { await pushAdverts(f, [own, ...others]) })
  }

  /** A caps stream from a member that proved itself on this connection (the caller checked): adverts it sends, or asks for. */
  async receive (f: JsonFrames, conn: Connection): Promise<void> {
    const from = conn.remotePeer.toString()
    await serveAdverts(f, async (e) => { await this.accept(e, from) }, async (ids) => await this.#entries(ids))
  }

  /** This node's advert and those it holds of `ids`. */
  async #entries (ids: string[]): Promise<AdvertEntry[]> {
    const m = this.#c.membership()
    if (m === undefined) return []
    const out: AdvertEntry[] = []
    for (const id of new Set(ids)) {
      if (id === this.#c.peerId) out.push({ record: (await this.current()).record, chain: m.chain })
      const k = this.#known.get(id)
      if (k !== undefined && this.#c.directory.isMember(id)) out.push({ record: k.record, chain: k.chain })
    }
    return out
  }

  /**
   * A heartbeat came, through `via`, from a member whose advert this node does not hold: asks
   * `via` for it (it checked that advert before relaying the heartbeat). Asks are gathered for
   * a moment and made one at a time per member asked; each missing member is asked for at most
   * every few seconds.
   */
  #want (member: string, via: string): void {
    const now = Date.now()
    if ((this.#asked.get(member) ?? 0) > now - WANT_AGAIN_MS) return
    if (this.#asked.size >= MAX_ADVERTS) this.#asked.clear()
    this.#asked.set(member, now)
    let list = this.#wants.get(via)
    if (list === undefined) {
      if (this.#wants.size >= MAX_WANT) return
      list = new Set()
      this.#wants.set(via, list)
      setTimeout(() => { void this.#ask(via) }, WANT_GATHER_MS).unref()
    }
    if (list.size < MAX_WANT) list.add(member)
  }

  async #ask (via: string): Promise<void> {
    const ids = [...(this.#wants.get(via) ?? [])]
    this.#wants.delete(via)
    if (ids.length === 0) return
    await this.#c.send(via, CAPS_PROTOCOL, async (f) => { await requestAdverts(f, ids, async (e) => { await this.accept(e, via) }) })
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
    // Older than the member's last heartbeat but newer than the advert held: one that was missed
    // and asked for. Taken for what it offers; it says nothing of whether the member is up.
    if (known !== undefined && doc.seq <= known.seq) return doc.seq === known.seq ? 'duplicate' : 'stale'
    const news = known === undefined || doc.seq > known.last
    const chainKey = e.chain.join('.')
    if (known?.chainKey !== chainKey) {
      const check = await verifyChain(e.chain, m.hiveId, peer, this.#c.removed())
      if (!check.ok) {
        if (check.reason === 'other_hive' || check.reason === 'removed') return 'stale'
        throw new ProtocolViolation(`an advert with a forged or malformed membership chain (${check.reason})`)
      }
      if (await this.#c.chainVerified(peer, check.path)) return 'stale'
    }
    // An advert is news however old (what the member offers); it says the member is up only
    // when it is recent, so a replayed one cannot pass for a heartbeat.
    const outcome = this.#c.directory.capabilities(peer, doc, news && doc.seq >= Date.now() - this.#o.maxAgeMs)
    if (outcome === 'stale') return outcome
    // Kept even when the peer table had it already (loaded from the store after a restart):
    // heartbeats are taken, and adverts passed on, only for members held here.
    if (known === undefined && this.#known.size >= MAX_ADVERTS) this.#known.delete(this.#known.keys().next().value!)
    this.#known.set(peer, { record: e.record, chain: e.chain, seq: doc.seq, last: Math.max(doc.seq, known?.last ?? 0), chainKey })
    if (outcome !== 'accepted') return outcome
    // Taken for what it offers, but not news: not passed on by gossip (a replay of a member's
    // older advert goes no further than this node).
    if (!news) return 'duplicate'
    const p2p = (doc.capabilities as { p2p?: { listen_addrs?: unknown } } | undefined)?.p2p
    if (Array.isArray(p2p?.listen_addrs)) this.#c.directory.addresses(peer, p2p.listen_addrs.filter((a): a is string => typeof a === 'string'))
    if (doc.status === 'leaving') this.#c.directory.left(peer)
    else if (known === undefined) this.#c.met(peer)
    return 'accepted'
  }

  /** A member was removed, or this node left (`undefined`): its adverts are not passed on any more. */
  forget (peer?: string): void {
    if (peer === undefined) this.#known.clear()
    else this.#known.delete(peer)
  }

  async #putInDht (doc: CapabilityDoc, record: string, now = false): Promise<void> {
    // Not in the node's first minutes: a put walks the DHT to the members closest to the key and
    // dials those it is not connected to, which while a hive forms were connections its degree
    // keeping closed again (measured, 30 nodes: with Kademlia's own first query, two of every
    // three dials). Nothing waits for the copy in the DHT: members have the advert by gossip.
    const wait = this.#dhtFrom - Date.now()
    if (wait > 0 && !now) {
      if (this.#dhtTimer === undefined) {
        this.#dhtTimer = setTimeout(() => {
          if (this.#stopped || this.#current === undefined || this.#c.membership() === undefined) return
          void this.#putInDht(this.#current.doc, this.#current.record)
        }, wait).unref()
      }
      return
    }
    const key = offerOf(doc)
    if (key === this.#dht.key && Date.now() - this.#dht.at < DHT_REFRESH_MS) return
    this.#dht = { key, at: Date.now() }
    const dht = this.#c.dht()
    if (dht === undefined) return
    try {
      for await (const _ of dht.put(capabilityKey(this.#c.peerId), new Uint8Array(Buffer.from(record, 'base64url')), { signal: AbortSignal.timeout(DHT_PUT_TIMEOUT_MS) })) { /* progress events */ }
    } catch (err) {
      this.#dht.at = 0
      this.#c.logger.debug({ err: messageOf(err) }, 'advert not put in the DHT (no DHT peers yet)')
    }
  }
}
