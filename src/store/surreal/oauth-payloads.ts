import type { Surreal } from 'surrealdb'
import type { OAuthPayloadStore } from '../types.ts'
import { defined, retryingConflicts } from './values.ts'

interface PayloadRow { payload: Record<string, unknown>, expires_at?: unknown }

/** One table for every model; the record id is `<model>:<id>` so models never collide. */
const key = (model: string, id: string): string => `${model}:${id}`

function live (row: PayloadRow | undefined): Record<string, unknown> | undefined {
  if (row === undefined) return undefined
  if (row.expires_at !== undefined && row.expires_at !== null && Number(new Date(String(row.expires_at))) <= Date.now()) return undefined
  return row.payload
}

export class SurrealOAuthPayloadStore implements OAuthPayloadStore {
  readonly #db: Surreal

  constructor (db: Surreal) {
    this.#db = db
  }

  async upsert (model: string, id: string, payload: Record<string, unknown>, expiresInSeconds?: number): Promise<void> {
    const content = defined({
      model,
      payload,
      expires_at: expiresInSeconds === undefined ? undefined : new Date(Date.now() + expiresInSeconds * 1000),
      grant_id: typeof payload.grantId === 'string' ? payload.grantId : undefined,
      user_code: typeof payload.userCode === 'string' ? payload.userCode : undefined,
      uid: typeof payload.uid === 'string' ? payload.uid : undefined
    })
    await retryingConflicts(async () => this.#db.query('UPSERT type::record(\'oauth_payload\', $key) CONTENT $content RETURN NONE', { key: key(model, id), content }).collect())
  }

  async #one (where: string, vars: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const [rows] = await this.#db.query<[PayloadRow[]]>(`SELECT payload, expires_at FROM oauth_payload WHERE ${where} LIMIT 1`, vars).collect()
    return live(rows?.[0])
  }

  async find (model: string, id: string): Promise<Record<string, unknown> | undefined> {
    const [rows] = await this.#db.query<[PayloadRow[]]>('SELECT payload, expires_at FROM type::record(\'oauth_payload\', $key)', { key: key(model, id) }).collect()
    return live(rows?.[0])
  }

  findByUserCode (model: string, userCode: string): Promise<Record<string, unknown> | undefined> {
    return this.#one('model = $model AND user_code = $userCode', { model, userCode })
  }

  findByUid (model: string, uid: string): Promise<Record<string, unknown> | undefined> {
    return this.#one('model = $model AND uid = $uid', { model, uid })
  }

  async consume (model: string, id: string): Promise<void> {
    await retryingConflicts(async () => this.#db.query('UPDATE type::record(\'oauth_payload\', $key) SET payload.consumed = time::unix() RETURN NONE', { key: key(model, id) }).collect())
  }

  async destroy (model: string, id: string): Promise<void> {
    await retryingConflicts(async () => this.#db.query('DELETE type::record(\'oauth_payload\', $key)', { key: key(model, id) }).collect())
  }

  async revokeByGrantId (model: string, grantId: string): Promise<void> {
    await retryingConflicts(async () => this.#db.query('DELETE oauth_payload WHERE model = $model AND grant_id = $grantId', { model, grantId }).collect())
  }

  async list (model: string, limit: number, clientId?: string): Promise<Array<{ id: string, payload: Record<string, unknown> }>> {
    // Grants and tokens name their client as payload.clientId; self-registered clients as payload.client_id.
    const byClient = clientId === undefined ? '' : ' AND (payload.clientId = $clientId OR payload.client_id = $clientId)'
    const [rows] = await this.#db.query<[Array<PayloadRow & { key: string }>]>(
      `SELECT record::id(id) AS key, payload, expires_at, payload.iat AS iat FROM oauth_payload WHERE model = $model AND (expires_at = NONE OR expires_at > time::now())${byClient} ORDER BY iat DESC LIMIT $limit`,
      { model, limit, ...(clientId === undefined ? {} : { clientId }) }).collect()
    return (rows ?? []).map((r) => ({ id: r.key.slice(model.length + 1), payload: r.payload }))
  }

  async purgeExpired (now: Date): Promise<number> {
    const [rows] = await this.#db.query<[unknown[]]>('DELETE oauth_payload WHERE expires_at != NONE AND expires_at <= $now RETURN BEFORE', { now }).collect()
    return rows?.length ?? 0
  }
}
