import type { Surreal } from 'surrealdb'
import type { PeerRecord, PeerRepository, PeerStats } from '../types.ts'
import { defined, toDate } from './values.ts'

interface PeerRow {
  peer_id: string
  node_id?: string
  addresses: string[]
  capabilities?: Record<string, unknown>
  capabilities_seq?: number
  first_seen: unknown
  last_seen: unknown
  status: PeerRecord['status']
  member: boolean
  trust: number
  stats: PeerStats
}

export class SurrealPeerRepository implements PeerRepository {
  readonly #db: Surreal

  constructor (db: Surreal) {
    this.#db = db
  }

  async upsert (p: PeerRecord): Promise<void> {
    await this.upsertMany([p])
  }

  /** Saves many peers in one query (the peer table flushes its changes once a second, not one write per event). */
  async upsertMany (peers: PeerRecord[]): Promise<void> {
    if (peers.length === 0) return
    await this.#db.query('FOR $p IN $rows { UPSERT type::record(\'peer\', $p.peer_id) CONTENT $p.row RETURN NONE; }', {
      rows: peers.map((p) => ({
        peer_id: p.peerId,
        row: defined({
          node_id: p.nodeId,
          addresses: p.addresses,
          capabilities: p.capabilities,
          capabilities_seq: p.capabilitiesSeq,
          first_seen: p.firstSeen,
          last_seen: p.lastSeen,
          status: p.status,
          member: p.member,
          trust: p.trust,
          stats: p.stats
        })
      }))
    }).collect()
  }

  async list (limit: number): Promise<PeerRecord[]> {
    const [rows] = await this.#db.query<[PeerRow[]]>(
      'SELECT record::id(id) AS peer_id, node_id, addresses, capabilities, capabilities_seq, first_seen, last_seen, status, member, trust, stats FROM peer ORDER BY last_seen DESC LIMIT $limit',
      { limit }).collect()
    return (rows ?? []).map((r) => ({
      peerId: r.peer_id,
      nodeId: r.node_id ?? undefined,
      addresses: r.addresses,
      capabilities: r.capabilities ?? undefined,
      capabilitiesSeq: r.capabilities_seq === undefined || r.capabilities_seq === null ? undefined : Number(r.capabilities_seq),
      firstSeen: toDate(r.first_seen),
      lastSeen: toDate(r.last_seen),
      status: r.status,
      member: r.member,
      trust: Number(r.trust),
      stats: r.stats
    }))
  }
}
