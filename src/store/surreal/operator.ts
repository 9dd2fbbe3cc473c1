import type { Surreal } from 'surrealdb'
import type { OperatorAccount, OperatorRepository } from '../types.ts'
import { toDate } from './values.ts'

export class SurrealOperatorRepository implements OperatorRepository {
  readonly #db: Surreal

  constructor (db: Surreal) {
    this.#db = db
  }

  async get (): Promise<OperatorAccount | undefined> {
    const [rows] = await this.#db.query<[Array<{ password_hash: string, updated_at: unknown }>]>('SELECT password_hash, updated_at FROM operator_account:operator').collect()
    const r = rows?.[0]
    return r === undefined ? undefined : { passwordHash: r.password_hash, updatedAt: toDate(r.updated_at) }
  }

  async set (a: OperatorAccount): Promise<void> {
    await this.#db.query('UPSERT operator_account:operator CONTENT { password_hash: $hash, updated_at: $at } RETURN NONE', { hash: a.passwordHash, at: a.updatedAt }).collect()
  }
}
