import type { Surreal } from 'surrealdb'
import type { HiveMembership, HiveRepository, InvitationRecord, InvitationUse, MemberRemoval } from '../types.ts'
import { toDate } from './values.ts'

interface MembershipRow { hive_id: string, chain: string[], joined_at: unknown }
interface RemovalRow { peer_id: string, removed_by: string, removed_at: unknown, record: string }
interface InvitationRow { secret_hash: string, uses_left: number, expires_at: unknown }

export class SurrealHiveRepository implements HiveRepository {
  readonly #db: Surreal

  constructor (db: Surreal) {
    this.#db = db
  }

  async membership (): Promise<HiveMembership | undefined> {
    const [rows] = await this.#db.query<[MembershipRow[]]>('SELECT hive_id, chain, joined_at FROM hive_membership:self').collect()
    const r = rows?.[0]
    return r === undefined ? undefined : { hiveId: r.hive_id, chain: r.chain, joinedAt: toDate(r.joined_at) }
  }

  async setMembership (m: HiveMembership): Promise<void> {
    await this.#db.query('UPSERT hive_membership:self CONTENT { hive_id: $hiveId, chain: $chain, joined_at: $joinedAt } RETURN NONE',
      { hiveId: m.hiveId, chain: m.chain, joinedAt: m.joinedAt }).collect()
  }

  async clearMembership (): Promise<void> {
    await this.#db.query('DELETE hive_membership:self').collect()
  }

  async addInvitation (i: InvitationRecord): Promise<void> {
    await this.#db.query('CREATE type::record(\'hive_invitation\', $id) CONTENT { secret_hash: $secretHash, uses_left: $usesLeft, expires_at: $expiresAt, created_at: $createdAt } RETURN NONE',
      { id: i.id, secretHash: i.secretHash, usesLeft: i.usesLeft, expiresAt: i.expiresAt, createdAt: i.createdAt }).collect()
  }

  async useInvitation (id: string, secretHash: string, now: Date): Promise<InvitationUse> {
    // One conditional update: the check and the decrement cannot be split by another join.
    const [taken] = await this.#db.query<[unknown[]]>(
      'UPDATE type::record(\'hive_invitation\', $id) SET uses_left -= 1 WHERE uses_left > 0 AND expires_at > $now AND secret_hash = $secretHash RETURN AFTER',
      { id, secretHash, now }).collect()
    if ((taken?.length ?? 0) > 0) return 'accepted'
    const [rows] = await this.#db.query<[InvitationRow[]]>('SELECT secret_hash, uses_left, expires_at FROM type::record(\'hive_invitation\', $id)', { id }).collect()
    const r = rows?.[0]
    if (r === undefined || r.secret_hash !== secretHash) return 'unknown'
    if (toDate(r.expires_at) <= now) return 'expired'
    return 'used'
  }

  async addRemoval (r: MemberRemoval): Promise<boolean> {
    const [rows] = await this.#db.query<[unknown[]]>('SELECT * FROM type::record(\'hive_removal\', $peerId)', { peerId: r.peerId }).collect()
    if ((rows?.length ?? 0) > 0) return false
    await this.#db.query('CREATE type::record(\'hive_removal\', $peerId) CONTENT { removed_by: $removedBy, removed_at: $removedAt, record: $record } RETURN NONE',
      { peerId: r.peerId, removedBy: r.removedBy, removedAt: r.removedAt, record: r.record }).collect()
    return true
  }

  async removals (): Promise<MemberRemoval[]> {
    const [rows] = await this.#db.query<[RemovalRow[]]>('SELECT record::id(id) AS peer_id, removed_by, removed_at, record FROM hive_removal ORDER BY removed_at').collect()
    return (rows ?? []).map((r) => ({ peerId: r.peer_id, removedBy: r.removed_by, removedAt: toDate(r.removed_at), record: r.record }))
  }
}
