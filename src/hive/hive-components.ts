import type { PrivateKey } from '@libp2p/interface'
import type { HiveRepository, PeerRepository } from '../store/index.ts'
import type { Logger } from '../shared/logger.ts'
import type { P2PHost } from './p2p-host.ts'
import type { HandshakeLimits } from './handshake-guard.ts'

// What the hive is given by the node that builds it (see Hive).

export interface HiveComponents {
  host: P2PHost
  privateKey: PrivateKey
  peerId: string
  nodeId: string
  hive: HiveRepository
  peers: PeerRepository
  logger: Logger
  /** The node's current advert (the info document without peer_id, node_id and seq). */
  advert (): Record<string, unknown>
  /** The node's load now. */
  load (): Record<string, number>
  /** Something happened that the audit log keeps (members joining, removals). */
  audit (action: string, target: string, detail?: Record<string, unknown>): void
  /** Whether requests forwarded through the hive are open with the peer now: its connection is kept. */
  inUse? (peerId: string): boolean
}

export interface HiveOptions {
  /** A member not heard from for this long is `offline`; members send a heartbeat three times in this span (less often in a big hive). */
  offlineAfterMs: number
  /** Member connections this node keeps (dials below it, trims above one and a half times it). */
  degree: number
  /** Join and challenge attempts allowed per remote address (and a quarter of that per peer id). */
  limits: HandshakeLimits
  /** An invitation to use at start when this node is not yet a member (EDGE_HIVE_JOIN_TOKEN). */
  joinToken?: string | undefined
}
