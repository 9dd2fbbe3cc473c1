import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'

const DIAL_TIMEOUT_MS = 10_000

export interface DegreeComponents {
  libp2p (): Libp2p | undefined
  logger: Logger
  /** Peers proven members on their current connection. */
  trusted (): string[]
  /** Members not connected now, with the addresses they last had (never removed ones). */
  unconnected (): Array<{ peerId: string, addresses: string[] }>
  /** The peers this node shares the gossip mesh with: kept when trimming. */
  mesh (): string[]
  /** Peers the operator named (bootstrap, `peers connect`): kept when trimming. */
  chosen (peer: string): boolean
  /** Tells a member the next close is on purpose (so it does not suspect this node). */
  bye (peer: string): Promise<void>
}

/**
 * Keeps this node's connections to members between `degree` and twice that, instead of one to
 * every member: gossip needs a connected mesh, not a full one, and each connection costs pings,
 * keep-alives and gossip traffic. Below `degree` it dials members it is not connected to (in
 * random order, so a hive does not pile onto the same few); above twice `degree` it closes the
 * connections that carry least (not in the gossip mesh, not chosen by the operator), down to
 * one and a half times `degree`, saying goodbye first. New members arrive at their inviter and
 * bootstrap peers, so those are what trimming mostly relieves.
 */
export class DegreeKeeper {
  readonly #c: DegreeComponents
  readonly degree: number

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
    const connected = new Set(this.#c.libp2p()?.getConnections().map((c) => c.remotePeer.toString()) ?? []).size
    return this.#c.trusted().length < this.degree && connected < this.degree
  }

  /** How many more member connections the node wants now. */
  missing (): number {
    return Math.max(0, this.degree - this.#c.trusted().length)
  }

  async keep (): Promise<void> {
    const node = this.#c.libp2p()
    if (node === undefined) return
    const trusted = this.#c.trusted()
    if (trusted.length < this.degree) {
      const candidates = shuffle(this.#c.unconnected().filter((p) => p.addresses.some((a) => a.endsWith(`/p2p/${p.peerId}`))))
      await Promise.all(candidates.slice(0, this.degree - trusted.length).map(async (p) => {
        const addrs = p.addresses.filter((a) => a.endsWith(`/p2p/${p.peerId}`)).map((a) => multiaddr(a))
        await node.dial(addrs, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch((err: unknown) => this.#c.logger.debug({ peer_id: p.peerId, err: messageOf(err) }, 'member not reachable'))
      }))
    } else if (trusted.length > 2 * this.degree) {
      const mesh = new Set(this.#c.mesh())
      const spare = shuffle(trusted.filter((p) => !mesh.has(p) && !this.#c.chosen(p)))
      const extra = trusted.length - Math.ceil(1.5 * this.degree)
      for (const peer of spare.slice(0, extra)) {
        await this.#c.bye(peer)
        await node.hangUp(peerIdFromString(peer)).catch(() => undefined)
      }
      if (extra > 0) this.#c.logger.debug({ closed: Math.min(extra, spare.length), connected: trusted.length }, 'closed member connections beyond the degree')
    }
  }
}

function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}
