import type { Surreal } from 'surrealdb'
import type { RevocationRepository, RevokedToken } from '../types.ts'
import { retryingConflicts, toDate } from './values.ts'

interface RevokedRow { jti: string, client_id: string, expires_at: unknown }

export class SurrealRevocationRepository implements RevocationRepository {
  readonly #db: Surreal

  constructor (db: Surreal) {
    this.#db = db
  }

  async add (t: RevokedToken): Promise<void> {
    await retryingConflicts(async () => this.#db.query('UPSERT type::record(\'revoked_token\', $jti) CONTENT { client_id: $clientId, expires_at: $expiresAt } RETURN NONE',
      { jti: t.jti, clientId: t.clientId, expiresAt: t.expiresAt }).collect())
  }

  async listActive (now: Date): Promise<RevokedToken[]> {
    const [rows] = await this.#db.query<[RevokedRow[]]>('SELECT record::id(id) AS jti, client_id, expires_at FROM revoked_token WHERE expires_at > $now', { now }).collect()
    return (rows ?? []).map((r) => ({ jti: r.jti, clientId: r.client_id, expiresAt: toDate(r.expires_at) }))
  }

  async purgeExpired (now: Date): Promise<number> {
    const [rows] = await this.#db.query<[unknown[]]>('DELETE revoked_token WHERE expires_at <= $now RETURN BEFORE', { now }).collect()
    return rows?.length ?? 0
  }
}
