import type { Connection } from '@libp2p/interface'
import type { Logger } from '../shared/logger.ts'
import { AttemptLimiter, addressKey } from './limits.ts'
import { RefusalLog, type AuditWrite } from './refusal-log.ts'

/** The window the handshake limits count in, and the one refusals are summed over. */
export const HANDSHAKE_WINDOW_MS = 60_000
/** Audit entries for refusals per window, all peers together (see RefusalLog). */
const MAX_REFUSAL_ENTRIES_PER_WINDOW = 20
/** A single peer id gets this share of an address's allowance. */
const PEER_SHARE = 4

export interface HandshakeLimits {
  /** `/edge-hive/join` requests per minute from one remote address (`p2pJoinRateLimit`). */
  joinPerMinute: number
  /** `/edge-hive/auth` challenges answered per minute from one remote address (`p2pAuthRateLimit`). */
  authPerMinute: number
}

export type Handshake = 'join' | 'auth'

/**
 * The two hive protocols open to peers that have not proven membership (join and auth) are the
 * ones a stranger can drive: each attempt costs signatures, a store lookup and log lines. This
 * counts attempts per remote address and per peer id before any of that work, refuses those
 * over the limit, and sends every refusal to the aggregated refusal log, never one audit entry each.
 */
export class HandshakeGuard {
  readonly #limiters: Record<Handshake, AttemptLimiter>
  readonly #refusals: RefusalLog

  constructor (c: { audit: AuditWrite, logger: Logger }, o: HandshakeLimits) {
    const limiter = (perMinute: number): AttemptLimiter =>
      new AttemptLimiter({ perAddress: perMinute, perPeer: Math.max(1, Math.ceil(perMinute / PEER_SHARE)), windowMs: HANDSHAKE_WINDOW_MS })
    this.#limiters = { join: limiter(o.joinPerMinute), auth: limiter(o.authPerMinute) }
    this.#refusals = new RefusalLog(c, { windowMs: HANDSHAKE_WINDOW_MS, maxEntriesPerWindow: MAX_REFUSAL_ENTRIES_PER_WINDOW })
  }

  /** Counts one inbound attempt; false when the peer or its address is over the limit (the refusal is logged). */
  admit (kind: Handshake, conn: Connection): boolean {
    const peer = conn.remotePeer.toString()
    const address = addressKey(conn.remoteAddr)
    const verdict = this.#limiters[kind].take(peer, address)
    if (verdict === 'ok') return true
    this.#refusals.refused(`hive.${kind}_limited`, peer, address, verdict === 'peer' ? 'too many attempts from this peer id' : 'too many attempts from this address')
    return false
  }

  /** A refusal worth auditing (a join refused, a forged answer), aggregated per address. */
  refused (action: string, conn: Connection, reason: string): void {
    this.#refusals.refused(action, conn.remotePeer.toString(), addressKey(conn.remoteAddr), reason)
  }

  /** A refusal of a peer known by id and address key (the relay's gater gets no connection). */
  refusedAt (action: string, peer: string, address: string, reason: string): void {
    this.#refusals.refused(action, peer, address, reason)
  }

  stop (): void {
    this.#refusals.stop()
  }
}
