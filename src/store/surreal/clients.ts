import type { Surreal } from 'surrealdb'
import type { ClientRecord, ClientRepository } from '../types.ts'
import { defined, toDate, toOptionalDate } from './values.ts'

interface ClientRow {
  client_id: string
  name: string
  scopes: string[]
  auth_method: ClientRecord['authMethod']
  secret_hash?: string
  jwks?: ClientRecord['jwks']
  agent_type?: string
  agent_version?: string
  created_at: unknown
  created_by?: string
  revoked_at?: unknown
  secret_rotated_at?: unknown
}

const FIELDS = 'record::id(id) AS client_id, name, scopes, auth_method, secret_hash, jwks, agent_type, agent_version, created_at, created_by, revoked_at, secret_rotated_at'

function fromRow (r: ClientRow): ClientRecord {
  return {
    clientId: r.client_id,
    name: r.name,
    scopes: r.scopes,
    authMethod: r.auth_method,
    secretHash: r.secret_hash ?? undefined,
    jwks: r.jwks ?? undefined,
    agentType: r.agent_type ?? undefined,
    agentVersion: r.agent_version ?? undefined,
    createdAt: toDate(r.created_at),
    createdBy: r.created_by ?? undefined,
    revokedAt: toOptionalDate(r.revoked_at),
    secretRotatedAt: toOptionalDate(r.secret_rotated_at)
  }
}

export class SurrealClientRepository implements ClientRepository {
  readonly #db: Surreal

  constructor (db: Surreal) {
    this.#db = db
  }

  async create (c: ClientRecord): Promise<void> {
    const content = defined({
      name: c.name, scopes: c.scopes, auth_method: c.authMethod, secret_hash: c.secretHash, jwks: c.jwks,
      agent_type: c.agentType, agent_version: c.agentVersion, created_at: c.createdAt, created_by: c.createdBy,
      revoked_at: c.revokedAt, secret_rotated_at: c.secretRotatedAt
    })
    // CREATE fails when the record exists: ids are never reused.
    await this.#db.query('CREATE type::record(\'oauth_client\', $id) CONTENT $content RETURN NONE', { id: c.clientId, content }).collect()
  }

  async get (clientId: string): Promise<ClientRecord | undefined> {
    const [rows] = await this.#db.query<[ClientRow[]]>(`SELECT ${FIELDS} FROM type::record('oauth_client', $id)`, { id: clientId }).collect()
    const row = rows?.[0]
    return row === undefined ? undefined : fromRow(row)
  }

  async list (limit: number): Promise<ClientRecord[]> {
    const [rows] = await this.#db.query<[ClientRow[]]>(`SELECT ${FIELDS} FROM oauth_client ORDER BY created_at ASC LIMIT $limit`, { limit }).collect()
    return (rows ?? []).map(fromRow)
  }

  async count (): Promise<number> {
    const [rows] = await this.#db.query<[Array<{ n: number }>]>('SELECT count() AS n FROM oauth_client GROUP ALL').collect()
    return Number(rows?.[0]?.n ?? 0)
  }

  async update (clientId: string, patch: Partial<Pick<ClientRecord, 'secretHash' | 'revokedAt' | 'secretRotatedAt'>>): Promise<ClientRecord | undefined> {
    const merge = defined({ secret_hash: patch.secretHash, revoked_at: patch.revokedAt, secret_rotated_at: patch.secretRotatedAt })
    const [rows] = await this.#db.query<[ClientRow[]]>(
      `UPDATE type::record('oauth_client', $id) MERGE $merge RETURN ${FIELDS}`, { id: clientId, merge }).collect()
    const row = rows?.[0]
    return row === undefined ? undefined : fromRow(row)
  }
}
