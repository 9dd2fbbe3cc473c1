import type { PeerStats } from '../store/index.ts'

/**
 * The trust score of a peer, between 0 and 1 (documented in docs/hive.md):
 *
 *   0.5  if it has proven membership of this hive (a valid challenge answer and credential)
 * + 0.2 × min(successful challenges, 5) / 5
 * + 0.2 × ping health (an exponentially weighted share of pings answered)
 * + 0.1 × min(time connected as a member, 1 hour) / 1 hour
 * − 0.1 per failed challenge and 0.15 per forged, malformed or out-of-order message
 *
 * clamped to [0, 1]. A peer that has not proven membership never gets above 0.5, and its status
 * stays `untrusted` whatever its score.
 */
export function trustScore (member: boolean, s: PeerStats): number {
  const score = (member ? 0.5 : 0) +
    0.2 * Math.min(s.authOk, 5) / 5 +
    0.2 * (member ? s.pingHealth : 0) +
    0.1 * Math.min(s.connectedMs, 3600_000) / 3600_000 -
    0.1 * s.authFailed -
    0.15 * s.badMessages
  return Math.round(Math.min(1, Math.max(0, score)) * 1000) / 1000
}

export function freshStats (): PeerStats {
  return { authOk: 0, authFailed: 0, badMessages: 0, pingHealth: 1, connectedMs: 0 }
}
