import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { Ping } from '@libp2p/ping'
import type { PeerDirectory } from './peer-directory.ts'
import type { MemberHint } from './protocols/members.ts'
import { isRelayed } from './relay.ts'
import { DIAL_PRIORITY, type HiveNet } from './hive-service.ts'

const DIAL_TIMEOUT_MS = 10_000
/** Pings in a row a connected member may leave unanswered before its connection is closed. */
const MISSED_PINGS = 2
/** A member just dialled counts towards the degree this long before it has proven itself. */
const PROOF_GRACE_MS = 5_000
/** A duplicate connection is closed only once every connection to that peer is this old. */
const SETTLE_MS = 10_000

export interface DegreeComponents {
  /** libp2p's connections, and its ping service (undefined before the host starts). */
  net (): HiveNet | undefined
  ping (): Ping | undefined
  logger: Logger
  /** Peers proven members on their current connection. */
  trusted (): string[]
  /** Members not connected now, with the addresses they last had (never removed ones). */
  unconnected (): Array<{ peerId: string, addresses: string[] }>
  /** The peers this node shares the gossip mesh with: kept when trimming. */
  mesh (): string[]
  /** Peers kept when trimming: those the operator connected to (`peers connect`), and those in use. */
  chosen (peer: string): boolean
  /** Tells a member the next close is on purpose (so it does not suspect this node). */
  bye (peer: string): Promise<void>
  directory: Pick<PeerDirectory, 'trustedPeers' | 'addressesOf' | 'isTrusted' | 'answered'>
  removed (peer: string): boolean
  self: string
  /** A member named this peer as a member: this node may challenge it. */
  vouch (peer: string): void
  /** Runs the challenge on a connection. */
  challenge (conn: Connection): Promise<void>
}

/**
 * Keeps this node's connections to members between `degree` and one and a half times that,
 * instead of one to every member: gossip needs a connected mesh, not a full one, and each
 * connection costs pings, keep-alives and gossip traffic. Below `degree` it dials members it is
 * not connected to (in random order, so a hive does not pile onto the same few); above one and
 * a half times `degree` it closes the extra connections that carry least (not in the gossip
 * mesh, not pinned by the operator or in use, not opened in the last minute), saying goodbye first, so
 * the member does not take the close for a failure. New members arrive at their inviter and bootstrap peers, and
 * members started together dial each other at once: trimming mostly relieves those.
 */
export class DegreeKeeper {
  readonly #c: DegreeComponents
  readonly degree: number
  /** Pings in a row each connected member let time out. */
  readonly #missed = new Map<string, number>()
  /**
   * Members being dialled now. Counted as connected when deciding how many more to dial: a
   * joining member is welcomed by several members at once, each welcome with hints, and dialling
   * what it was short of for each of them overshot its degree several times over (measured, 30
   * nodes: two dials in three while the hive formed were these, most closed again by trimming).
   */
  readonly #dialing = new Set<string>()

  constructor (c: DegreeComponents, degree: number) {
    this.#c = c
    this.degree = degree
  }

  /**
   * Whether the node wants more peers: fewer proven members than `degree`, and fewer peers
   * connected at all (dials in flight become connections fast; at start nothing is proven yet,
   * and dialling every peer mDNS reports would make a full mesh again). LAN discovery queries,
   * and dials what it finds, only then.
   */
  wants (): boolean {
    const connected = new Set([...(this.#c.net()?.getConnections().map((c) => c.remotePeer.toString()) ?? []), ...this.#dialing]).size
    return this.#counted() < this.degree && connected < this.degree
  }

  /** How many more member connections the node wants now (dials under way count as made). */
  missing (): number {
    return Math.max(0, this.degree - this.#counted())
  }

  /** Members proven on a connection, and those being dialled or just dialled (not proven yet). */
  #counted (): number {
    const all = new Set(this.#c.trusted())
    for (const p of this.#dialing) all.add(p)
    return all.size
  }

  /** Dials a member, counted in #dialing meanwhile; `failed` is logged at debug level. */
  async #dial (node: HiveNet, peer: string, addrs: string[], failed: string): Promise<void> {
    if (this.#dialing.has(peer)) return
    this.#dialing.add(peer)
    try {
      await node.openConnection(addrs.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS), priority: DIAL_PRIORITY })
      // Connected: still counted while the member proves itself (a challenge, a round trip).
      setTimeout(() => this.#dialing.delete(peer), PROOF_GRACE_MS).unref()
    } catch (err) {
      this.#dialing.delete(peer)
      this.#c.logger.debug({ peer_id: peer, err: messageOf(err) }, failed)
    }
  }

  async keep (): Promise<void> {
    const node = this.#c.net()
    if (node === undefined) return
    await dedupe(node, this.#c.self)
    const trusted = this.#c.trusted()
    if (trusted.length < this.degree) {
      const candidates = shuffle(this.#c.unconnected().filter((p) => !this.#dialing.has(p.peerId) && p.addresses.some((a) => a.endsWith(`/p2p/${p.peerId}`))))
      await Promise.all(candidates.slice(0, this.missing()).map(async (p) => {
        await this.#dial(node, p.peerId, p.addresses.filter((a) => a.endsWith(`/p2p/${p.peerId}`)), 'member not reachable')
      }))
    } else if (trusted.length > Math.ceil(1.5 * this.degree)) {
      const mesh = new Set(this.#c.mesh())
      // Not a connection opened in the last minute: the member that dialled it was short of its
      // degree, and closing it at once would only send it dialling again (churn, in a small hive).
      const young = Date.now() - SETTLE_MS * 6
      const spare = shuffle(trusted.filter((p) => !mesh.has(p) && !this.#c.chosen(p) && node.getConnections(peerIdFromString(p)).every((c) => c.timeline.open < young)))
      const extra = trusted.length - Math.ceil(1.5 * this.degree)
      for (const peer of spare.slice(0, extra)) {
        await this.#c.bye(peer)
        await node.closeConnections(peerIdFromString(peer)).catch(() => undefined)
      }
      if (extra > 0) this.#c.logger.debug({ closed: Math.min(extra, spare.length), connected: trusted.length }, 'closed member connections beyond the degree')
    }
  }

  /** Some members this node is connected to and proven, with where to dial them (not `to` itself): twice the degree at most. */
  hints (to: string): MemberHint[] {
    return this.#c.directory.trustedPeers()
      .filter((p) => p !== to)
      .map((p) => ({ peer_id: p, addrs: this.#c.directory.addressesOf(p).filter((a) => a.endsWith(`/p2p/${p}`)) }))
      .filter((h) => h.addrs.length > 0)
      .sort(() => Math.random() - 0.5)
      .slice(0, 2 * this.degree)
  }

  /**
   * A member named these as members: challenge those connected but not proven, and dial, in
   * random order, as many of the others as this node is short of its degree.
   */
  async follow (hints: MemberHint[]): Promise<void> {
    const node = this.#c.net()
    if (node === undefined) return
    const usable = hints.filter((h) => h.peer_id !== this.#c.self && !this.#c.removed(h.peer_id))
    for (const h of usable) this.#c.vouch(h.peer_id)
    const connected = usable.filter((h) => node.getConnections(peerIdFromString(h.peer_id)).length > 0)
    // At most half the degree from one message of hints: dials under way count as
    // connections, and hints that lead nowhere (a member naming addresses that do not answer)
    // must not hold every place while keep() and the other members' hints wait.
    const others = usable.filter((h) => !connected.includes(h) && !this.#dialing.has(h.peer_id)).sort(() => Math.random() - 0.5).slice(0, Math.min(this.missing(), Math.ceil(this.degree / 2)))
    await Promise.all([
      ...connected.filter((h) => !this.#c.directory.isTrusted(h.peer_id)).map(async (h) => { await this.#c.challenge(node.getConnections(peerIdFromString(h.peer_id))[0]!) }),
      ...others.map(async (h) => {
        const addrs = h.addrs.filter((a) => a.endsWith(`/p2p/${h.peer_id}`))
        if (addrs.length > 0) await this.#dial(node, h.peer_id, addrs, 'a member named by another could not be dialled')
      })
    ])
  }

  /**
   * Pings the members this node is connected to (a few, the degree): the ping health in their
   * trust. A member that lets MISSED_PINGS pings in a row time out is disconnected: its host may
   * have lost power or its network, which nothing else notices for as long as TCP keeps trying
   * (about 15 minutes on Linux), and meanwhile the connection would hold a place of the degree
   * and be handed to new members as a hint. The close is not a goodbye, so the hive hears of it
   * (and the member, if alive, answers and is dialled again).
   */
  async ping (timeoutMs: number): Promise<void> {
    const node = this.#c.net()
    const ping = this.#c.ping()
    if (node === undefined || ping === undefined) return
    const trusted = this.#c.directory.trustedPeers()
    for (const p of this.#missed.keys()) if (!trusted.includes(p)) this.#missed.delete(p)
    await Promise.all(trusted.map(async (p) => {
      try {
        await ping.ping(peerIdFromString(p), { signal: AbortSignal.timeout(timeoutMs) })
        this.#c.directory.answered(p, true)
        this.#missed.delete(p)
      } catch (err) {
        this.#c.directory.answered(p, false)
        // Only silence counts: a ping refused (another ping was running on the connection) says the peer is there.
        if ((err as Error).name !== 'TimeoutError' && (err as Error).name !== 'AbortError') return
        const missed = (this.#missed.get(p) ?? 0) + 1
        this.#missed.set(p, missed)
        if (missed < MISSED_PINGS) return
        this.#missed.delete(p)
        this.#c.logger.info({ peer_id: p, missed }, 'a member did not answer pings; closing its connection')
        await node.closeConnections(peerIdFromString(p)).catch(() => undefined)
      }
    }))
  }
}

/**
 * Two members that dial each other at the same moment (both found the other on the LAN, or both
 * were short of their degree) end up with two connections, and every keep-alive and ping twice.
 * Both sides keep the same one, the one dialled by the lower peer id, and close the other.
 */
async function dedupe (node: HiveNet, self: string): Promise<void> {
  const byPeer = new Map<string, Connection[]>()
  for (const c of node.getConnections()) {
    const list = byPeer.get(c.remotePeer.toString()) ?? []
    list.push(c)
    byPeer.set(c.remotePeer.toString(), list)
  }
  const settled = Date.now() - SETTLE_MS
  for (const [peer, conns] of byPeer) {
    // Not while one of them is new: its challenge may still be running.
    if (conns.length < 2 || conns.some((c) => c.timeline.open > settled)) continue
    const keepDirection = self < peer ? 'outbound' : 'inbound'
    // A direct connection before one through a relay (DCUtR closes the relayed one itself when it
    // made the direct one; a member that dialled back directly did not go through DCUtR).
    const direct = conns.filter((c) => !isRelayed(c.remoteAddr))
    const pool = direct.length > 0 ? direct : conns
    const keep = pool.find((c) => c.direction === keepDirection && c.status === 'open') ?? pool[0]!
    await Promise.all(conns.filter((c) => c !== keep).map(async (c) => { await c.close().catch(() => undefined) }))
  }
}

function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}
