import type { Connection, PeerId, TopologyFilter } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { RelayReservation } from '@libp2p/circuit-relay-v2'
import type { Logger } from '../shared/logger.ts'
import { AttemptLimiter, addressKey } from './limits.ts'

/**
 * Member relays: circuit relay v2 (https://github.com/libp2p/specs/blob/master/relay/circuit-v2.md)
 * run by members for members only. A member that other members cannot dial (behind NAT) holds a
 * reservation on a member relay and advertises `<relay>/p2p-circuit/p2p/<itself>`; a member that
 * wants it dials that address, and the relay joins the two streams.
 */

/** Whether an address goes through a relay (`.../p2p-circuit/...`). */
export function isRelayed (ma: Multiaddr): boolean {
  return ma.getComponents().some((c) => c.name === 'p2p-circuit')
}

/** How long a reservation lasts before the member must refresh it (libp2p refreshes 5 minutes before). */
export const RESERVATION_TTL_MS = 60 * 60_000
/** A peer asking for a reservation, or to be relayed, whose proof is still under way is waited for this long. */
export const PROOF_WAIT_MS = 5_000
/** Reservation requests per minute from one remote address; one peer id gets a quarter (refreshes come every 55 min). */
const RESERVE_PER_MINUTE = 12
/** Relayed connections (hop streams) one member may have open through this relay on one connection. */
export const MAX_HOP_STREAMS = 16
/** Relayed connections to one member behind NAT open through this relay at once (stop streams on its connection). */
export const MAX_STOP_STREAMS = 64

export interface RelayGateComponents {
  logger: Logger
  /** Whether the peer proved membership on its current connection. */
  isTrusted (peerId: string): boolean
  /** Whether the peer is a member of this node's hive (proven here, or by its advert's chain). */
  isMember (peerId: string): boolean
  /** The peer's open connections. */
  connections (peer: PeerId): Connection[]
  /** The reservations this relay holds now (empty when it relays for no one). */
  reservations (): Iterable<[PeerId, RelayReservation]>
  /** A refusal worth the (aggregated) audit log. */
  refused (action: string, peer: string, address: string, reason: string): void
}

export interface RelayGateOptions {
  /** Reservations held at once (`p2pRelayReservations`); one remote address holds a quarter of them. */
  maxReservations: number
}

/**
 * The connection gater's relay hooks: who may reserve a slot on this node, whom it relays, and
 * through whom it accepts relayed connections. libp2p asks these before any relay work is done.
 */
export class RelayGate {
  readonly #c: RelayGateComponents
  readonly #perAddress: number
  readonly #attempts = new AttemptLimiter({ perAddress: RESERVE_PER_MINUTE, perPeer: Math.ceil(RESERVE_PER_MINUTE / 4), windowMs: 60_000 })

  constructor (c: RelayGateComponents, o: RelayGateOptions) {
    this.#c = c
    this.#perAddress = Math.max(1, Math.ceil(o.maxReservations / 4))
  }

  /** The peer's direct connection (a reservation over a relayed one is refused by the relay itself). */
  #direct (peer: PeerId): Connection | undefined {
    return this.#c.connections(peer).find((c) => c.status === 'open' && !isRelayed(c.remoteAddr))
  }

  /** Waits (a little) for a member's proof on its connection: it often races the first relay request. */
  async #proven (peer: string): Promise<boolean> {
    const until = Date.now() + PROOF_WAIT_MS
    while (!this.#c.isTrusted(peer)) {
      if (Date.now() >= until) return false
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return true
  }

  /**
   * `denyInboundRelayReservation`: only a peer proven a member on its connection reserves, within
   * the attempt rate and the reservations one address may hold (members behind one NAT share one).
   * The total is the relay server's own `maxReservations`.
   */
  async denyReservation (peer: PeerId): Promise<boolean> {
    const id = peer.toString()
    const address = addressKey(this.#direct(peer)?.remoteAddr)
    const verdict = this.#attempts.take(id, address)
    if (verdict !== 'ok') {
      this.#c.refused('hive.relay_limited', id, address, `too many reservation requests from this ${verdict === 'peer' ? 'peer id' : 'address'}`)
      return true
    }
    if (!(await this.#proven(id))) {
      this.#c.refused('hive.relay_refused', id, address, 'a reservation asked by a peer that has not proven membership')
      return true
    }
    let held = 0
    for (const [holder, r] of this.#c.reservations()) if (!holder.equals(peer) && addressKey(r.addr) === address) held++
    if (held >= this.#perAddress) {
      this.#c.refused('hive.relay_limited', id, address, 'this address holds as many reservations as it may')
      return true
    }
    this.#c.logger.debug({ peer_id: id, address }, 'relay reservation granted to a member')
    return false
  }

  /** `denyOutboundRelayedConnection`: this relay joins a proven member to a member only. */
  async denyRelaying (source: PeerId, destination: PeerId): Promise<boolean> {
    const from = source.toString()
    if ((await this.#proven(from)) && this.#c.isMember(destination.toString())) return false
    this.#c.refused('hive.relay_refused', from, addressKey(this.#direct(source)?.remoteAddr), 'asked to be relayed without proven membership, or to a non-member')
    return true
  }

  /** `denyInboundRelayedConnection`: this node takes relayed connections only through a member relay. */
  denyRelayedFrom (relay: PeerId): boolean {
    return !this.#c.isMember(relay.toString())
  }

  /** `denyDialMultiaddr`: a `/p2p-circuit` address is dialled only through a member relay. */
  denyDialThrough (ma: Multiaddr): boolean {
    if (!isRelayed(ma)) return false
    const [relayPart] = ma.toString().split('/p2p-circuit')
    const relay = /\/p2p\/([^/]+)$/.exec(relayPart ?? '')?.[1]
    return relay === undefined || !this.#c.isMember(relay)
  }
}

/**
 * The relay discovery filter of a member behind NAT. libp2p offers a connected peer that speaks
 * the hop protocol to the reservation store once per connection, when identify has run; a
 * stranger that runs a relay must not get that member's reservation (its relayed address would
 * be one that members refuse to dial), nor a member whose proof has not finished yet (it would
 * be refused). So this says "seen already" of every peer not proven a member now; once one is
 * proven the host runs identify on the connection again (see P2PHost.memberProven), which offers it.
 */
export function memberRelayFilter (isTrusted: (peerId: string) => boolean): TopologyFilter {
  const offered = new Set<string>()
  return {
    has: (peer) => !isTrusted(peer.toString()) || offered.has(peer.toString()),
    add: (peer) => { offered.add(peer.toString()) },
    remove: (peer) => { offered.delete(peer.toString()) }
  }
}
