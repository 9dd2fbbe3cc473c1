import { EventEmitter } from 'node:events'
import type { PeerRecord, PeerRepository, PeerStatus } from '../store/index.ts'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import { trustScore, freshStats } from './trust.ts'
import { offerOf } from './protocols/caps.ts'

/** The most peers remembered; the least recently seen non-members are forgotten first. */
export const MAX_KNOWN_PEERS = 1000
const FLUSH_INTERVAL_MS = 1_000
/**
 * A member heard from (a heartbeat, a ping) is saved again at most this often when nothing else
 * about it changed: `last_seen` in the store is for after a restart, not a live view, and 29
 * members beating every 5 s would otherwise be 6 writes a second.
 */
const RESAVE_MS = 5 * 60_000
/** A suspected member that says nothing for this long after the suspicion is offline (see `suspected`). */
export const SUSPICION_MS = 3_000

/** A peer's status changed: `online`, `offline`, `untrusted`, or `removed` from the hive. */
export interface PeerEvent {
  type: PeerStatus | 'removed'
  peerId: string
  nodeId?: string | undefined
  trust: number
}

interface Entry extends PeerRecord {
  connected: boolean
  /** Membership proven on the current connection (a valid answer and credential). */
  proven: boolean
  lastAnswer: number
  connectedSince?: number | undefined
  /** The store has a row for it: loaded from there, or saved once it was a member. */
  stored: boolean
  savedAt: number
  /** A member said it lost its connection to this one: when, and the last answer heard before. */
  suspicion?: { at: number, lastAnswer: number } | undefined
}

/** A member as `hive members` lists it. */
export interface MemberView {
  peer_id: string
  node_id?: string | undefined
  self: boolean
  status: 'self' | PeerRecord['status']
  trust: number
  last_seen?: string | undefined
}

/**
 * The peers this node knows, persisted in the store: status, trust score, addresses and the last
 * capability record. Status is derived, never set: `untrusted` until the peer is known to be a
 * member (it proved membership on a connection here, or its advert came with a valid chain),
 * then `online` while it is heard from (its advert, the hive's heartbeat, from gossip; a ping
 * on a direct connection) within `offlineAfterMs`, else `offline`; at once `offline` when it
 * says it is leaving, and when a member suspects it (lost its connection to it) and it does
 * not answer within SUSPICION_MS. Emits `peer` (PeerEvent) when a status changes. Changes are
 * saved once a second, in one write.
 */
export class PeerDirectory extends EventEmitter<{ peer: [PeerEvent] }> {
  readonly #repo: PeerRepository
  readonly #log: Logger
  #offlineAfterMs: number
  readonly #peers = new Map<string, Entry>()
  readonly #dirty = new Set<string>()
  #timer?: NodeJS.Timeout
  #flushing?: Promise<void>

  constructor (c: { repo: PeerRepository, logger: Logger }, o: { offlineAfterMs: number }) {
    super()
    this.#repo = c.repo
    this.#log = c.logger
    this.#offlineAfterMs = o.offlineAfterMs
  }

  /** Loads the table: everyone starts unconnected (members `offline`) until they connect again. */
  async load (): Promise<void> {
    for (const r of await this.#repo.list(MAX_KNOWN_PEERS)) {
      const e: Entry = { ...r, connected: false, proven: false, lastAnswer: 0, stored: true, savedAt: Date.now() }
      e.status = this.#statusOf(e)
      this.#peers.set(r.peerId, e)
    }
    this.#timer = setInterval(() => { this.refresh(); void this.flush() }, FLUSH_INTERVAL_MS).unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    for (const e of this.#peers.values()) if (e.connected) this.disconnected(e.peerId)
    await this.flush()
  }

  #entry (peerId: string): Entry {
    let e = this.#peers.get(peerId)
    if (e === undefined) {
      const now = new Date()
      e = {
        peerId, addresses: [], firstSeen: now, lastSeen: now, status: 'untrusted', member: false, trust: 0,
        stats: freshStats(), connected: false, proven: false, lastAnswer: 0, stored: false, savedAt: 0
      }
      this.#peers.set(peerId, e)
      this.#evict()
    }
    return e
  }

  #evict (): void {
    if (this.#peers.size <= MAX_KNOWN_PEERS) return
    const victim = [...this.#peers.values()].filter((e) => !e.member && !e.connected).sort((a, b) => a.lastSeen.getTime() - b.lastSeen.getTime())[0]
    if (victim !== undefined) this.#peers.delete(victim.peerId)
  }

  #statusOf (e: Entry): PeerStatus {
    if (!e.member) return 'untrusted'
    return Date.now() - e.lastAnswer <= this.#offlineAfterMs ? 'online' : 'offline'
  }

  /** Recomputes trust and status; `changed` says the record itself changed and must be saved. */
  #update (e: Entry, changed = true): void {
    const now = Date.now()
    const trust = e.trust
    if (e.connected && e.proven && e.connectedSince !== undefined) {
      e.stats.connectedMs += now - e.connectedSince
      e.connectedSince = now
    }
    e.trust = trustScore(e.member, e.stats)
    const status = this.#statusOf(e)
    if (changed || Math.abs(trust - e.trust) >= 0.01 || status !== e.status || (e.member && now - e.savedAt >= RESAVE_MS)) this.#dirty.add(e.peerId)
    if (status === e.status) return
    e.status = status
    this.#log.info({ peer_id: e.peerId, node_id: e.nodeId, status, trust: e.trust }, `peer ${status}`)
    this.emit('peer', { type: status, peerId: e.peerId, nodeId: e.nodeId, trust: e.trust })
  }

  /** A transport connection opened: nothing is proven yet. */
  connected (peerId: string, addresses: string[]): void {
    const e = this.#entry(peerId)
    e.connected = true
    e.lastSeen = new Date()
    if (e.addresses.length === 0) e.addresses = addresses.slice(0, 16)
    this.#update(e)
  }

  /** The last connection to the peer closed. Its status does not change: whether it is still up is for the hive to say (see `suspected`). */
  disconnected (peerId: string): void {
    const e = this.#peers.get(peerId)
    if (e === undefined) return
    this.#update(e, false)
    e.connected = false
    e.proven = false
    e.connectedSince = undefined
    this.#update(e, false)
  }

  /**
   * A member lost its connection to this peer without a goodbye (this node, or one whose
   * gossip said so). The peer is told too and answers with a fresh advert if it is alive; if
   * nothing is heard from it within SUSPICION_MS, it is offline.
   */
  suspected (peerId: string): void {
    const e = this.#peers.get(peerId)
    if (e === undefined || !e.member || e.suspicion !== undefined) return
    e.suspicion = { at: Date.now(), lastAnswer: e.lastAnswer }
  }

  /** The peer said it is stopping (its last advert): offline now. */
  left (peerId: string): void {
    const e = this.#peers.get(peerId)
    if (e === undefined) return
    e.lastAnswer = 0
    e.suspicion = undefined
    this.#update(e, false)
  }

  /** The peer's listen addresses, as identify or its advert reported them (used to dial it again). */
  addresses (peerId: string, addresses: string[]): void {
    if (addresses.length === 0) return
    const e = this.#entry(peerId)
    e.addresses = addresses.slice(0, 16)
    this.#dirty.add(peerId)
  }

  /** The outcome of a challenge on the current connection. */
  authenticated (peerId: string, verdict: { proof: boolean, member: boolean }): void {
    const e = this.#entry(peerId)
    if (verdict.proof) e.stats.authOk++
    else e.stats.authFailed++
    const proven = verdict.proof && verdict.member
    e.proven = proven
    if (proven) {
      e.member = true
      e.lastAnswer = Date.now()
      e.connectedSince ??= Date.now()
    } else if (verdict.proof) {
      // A valid answer without a valid chain: not a member (any more). A bad answer says nothing
      // about membership (a busy machine, a replay by someone else): it costs trust, not that.
      e.member = false
    }
    e.lastSeen = new Date()
    this.#update(e)
  }

  /** A forged, malformed, oversized or out-of-order message: counted against the peer's trust. */
  misbehaved (peerId: string, why: string): void {
    const e = this.#entry(peerId)
    e.stats.badMessages++
    // A member's bad message is news to the operator; a stranger's are mostly noise after the
    // first (and a flood of them must not flood the log).
    const level = e.member || e.stats.badMessages === 1 ? 'warn' : 'debug'
    this.#log[level]({ peer_id: peerId, why }, 'peer sent a bad message')
    this.#update(e)
  }

  /** A ping answered or not; any answer from the peer counts as one. */
  answered (peerId: string, ok: boolean): void {
    const e = this.#peers.get(peerId)
    if (e === undefined) return
    e.stats.pingHealth = 0.8 * e.stats.pingHealth + (ok ? 0.2 : 0)
    if (ok) {
      e.lastAnswer = Date.now()
      e.lastSeen = new Date()
    }
    this.#update(e, false)
  }

  /**
   * Keeps a member's capability record if it is newer than the last (a sequence going backwards
   * is refused), and, when it is `fresh`, counts it as hearing from the member. The caller
   * checked the record's signature and the member's chain: the peer is a member from now on.
   */
  capabilities (peerId: string, doc: Record<string, unknown> & { seq: number, node_id: string }, fresh = true): 'accepted' | 'duplicate' | 'stale' {
    const e = this.#entry(peerId)
    if (e.capabilitiesSeq !== undefined && doc.seq === e.capabilitiesSeq) return 'duplicate'
    if (e.capabilitiesSeq !== undefined && doc.seq < e.capabilitiesSeq) return 'stale'
    // Only a change of what the advert offers is worth a write; uptime and load change every time.
    const changed = !e.member || e.nodeId !== doc.node_id || e.capabilities === undefined || offerOf(e.capabilities) !== offerOf(doc)
    e.capabilities = doc
    e.capabilitiesSeq = doc.seq
    e.nodeId = doc.node_id
    e.member = true
    if (fresh) {
      e.lastAnswer = Date.now()
      e.lastSeen = new Date()
    }
    this.#update(e, changed)
    return 'accepted'
  }

  /** A heartbeat from a member (checked by the caller): it is up; its load and uptime, when given, replace those in its advert. */
  heard (peerId: string, load?: Record<string, number>, uptime?: number): void {
    const e = this.#peers.get(peerId)
    if (e === undefined || !e.member) return
    e.lastAnswer = Date.now()
    e.lastSeen = new Date()
    if ((load !== undefined || uptime !== undefined) && e.capabilities !== undefined) {
      const fresh = { ...(load === undefined ? {} : { load }), ...(uptime === undefined ? {} : { uptime }) }
      const metadata = e.capabilities.metadata as Record<string, unknown> | undefined
      e.capabilities = { ...e.capabilities, ...fresh, ...(metadata === undefined ? {} : { metadata: { ...metadata, ...fresh } }) }
    }
    this.#update(e, false)
  }

  /** The peer was removed from the hive: it is no longer a member, whatever it presents. */
  removed (peerId: string): void {
    const e = this.#entry(peerId)
    e.member = false
    e.proven = false
    this.#update(e)
    this.emit('peer', { type: 'removed', peerId, nodeId: e.nodeId, trust: e.trust })
  }

  /** This node left its hive (it was removed): no one is a member of it any more, as far as this node knows. */
  leftHive (): void {
    for (const e of this.#peers.values()) {
      if (!e.member && !e.proven) continue
      e.member = false
      e.proven = false
      this.#update(e)
    }
  }

  /** Whether the peer proved membership here before (on this connection or an earlier one) and was not removed since. */
  isMember (peerId: string): boolean {
    return this.#peers.get(peerId)?.member === true
  }

  /** Whether hive protocols (other than auth and join) may serve this peer now. */
  isTrusted (peerId: string): boolean {
    const e = this.#peers.get(peerId)
    return e !== undefined && e.member && e.proven && e.connected
  }

  #view (e: Entry): PeerRecord {
    const { connected: _c, proven: _p, lastAnswer: _l, connectedSince: _s, stored: _st, savedAt: _sa, suspicion: _su, ...record } = e
    return { ...record, stats: { ...e.stats } }
  }

  /** Every known peer, most recently seen first. */
  list (): PeerRecord[] {
    return [...this.#peers.values()].sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime()).map((e) => this.#view(e))
  }

  /** Members known (not this node). */
  memberCount (): number {
    let n = 0
    for (const e of this.#peers.values()) if (e.member) n++
    return n
  }

  /** A bigger hive beats more slowly, so its members wait longer before taking silence for absence. */
  setOfflineAfter (ms: number): void {
    this.#offlineAfterMs = ms
  }

  /**
   * The members with this node id. Node ids are short (36 bits) and derived from the key, so two
   * members could share one, by chance or by a key ground to match: the caller must not pick one.
   */
  membersByNodeId (nodeId: string): PeerRecord[] {
    return [...this.#peers.values()].filter((e) => e.member && e.nodeId === nodeId).map((e) => this.#view(e))
  }

  addressesOf (peerId: string): string[] {
    return this.#peers.get(peerId)?.addresses ?? []
  }

  /** Members not connected now, for redialling. */
  unreachableMembers (): PeerRecord[] {
    return [...this.#peers.values()].filter((e) => e.member && !e.connected).map((e) => this.#view(e))
  }

  /** Connected peers whose membership is proven, for pings and pushes. */
  trustedPeers (): string[] {
    return [...this.#peers.values()].filter((e) => e.member && e.proven && e.connected).map((e) => e.peerId)
  }

  /** The members known, as `hive members` lists them (this node not among them). */
  members (): MemberView[] {
    return this.list().filter((p) => p.member).map((p) => ({
      peer_id: p.peerId, node_id: p.nodeId, self: false, status: p.status, trust: p.trust, last_seen: p.lastSeen.toISOString()
    }))
  }

  /** Re-derives every status (time passing turns silent peers `offline`, and suspected ones that stayed silent). */
  refresh (): void {
    const now = Date.now()
    for (const e of this.#peers.values()) {
      const s = e.suspicion
      if (s !== undefined && (e.lastAnswer > s.lastAnswer || now - s.at >= SUSPICION_MS)) {
        if (e.lastAnswer <= s.lastAnswer) e.lastAnswer = 0
        e.suspicion = undefined
      }
      this.#update(e, false)
    }
  }

  /** Saves the changed peers; one flush at a time, so two never write the same rows at once. */
  async flush (): Promise<void> {
    this.#flushing = (this.#flushing ?? Promise.resolve()).then(async () => { await this.#flush() })
    await this.#flushing
  }

  async #flush (): Promise<void> {
    // Peers that never proved membership live in memory only (at most MAX_KNOWN_PEERS): a
    // stranger with a fresh key per connection must not add a row to the store each time.
    const entries = [...this.#dirty].map((id) => this.#peers.get(id)).filter((e): e is Entry => e !== undefined && (e.member || e.stored))
    this.#dirty.clear()
    if (entries.length === 0) return
    const now = Date.now()
    try {
      await this.#repo.upsertMany(entries.map((e) => this.#view(e)))
      for (const e of entries) {
        e.stored = true
        e.savedAt = now
      }
    } catch (err) {
      this.#log.warn({ peers: entries.length, err: messageOf(err) }, 'could not save the peer table')
    }
  }
}
