/**
 * What the rest of the node may ask of its store. Only `store/surreal/` knows SurrealDB;
 * every other part sees these interfaces (as oidc-provider sees its Adapter).
 */

export type AuditOutcome = 'success' | 'failure'

/** One line of the audit log: who did what to what, from where, and how it ended. Never a secret. */
export interface AuditEntry {
  at: Date
  /** A client id, `operator`, `node` or a peer id. */
  actor: string
  /** Dotted verb, e.g. `node.started`, `token.issued`, `client.revoked`. */
  action: string
  target?: string | undefined
  /** Source address of the request, where there was one. */
  source?: string | undefined
  outcome: AuditOutcome
  detail?: Record<string, unknown> | undefined
}

export interface AuditQuery {
  /** At most this many entries, newest first. */
  limit: number
  since?: Date
  until?: Date
}

export interface AuditLog {
  append (entry: Omit<AuditEntry, 'at'> & { at?: Date }): Promise<void>
  list (query: AuditQuery): Promise<AuditEntry[]>
}

/** An open store. `close()` is idempotent. */
export interface Store {
  readonly audit: AuditLog
  /** The schema version after migrations ran. */
  readonly schemaVersion: number
  /** True when the store answers a trivial query. */
  ping (): Promise<boolean>
  close (): Promise<void>
}

export interface StoreOptions {
  /** `surrealkv://<path>`, `mem://`, `ws://host:port`, `wss://...` */
  url: string
  namespace: string
  database: string
  username?: string | undefined
  password?: string | undefined
  /** How long to wait for the store to answer at open (the SDK itself waits forever). Default 15 s. */
  connectTimeoutMs?: number
}
