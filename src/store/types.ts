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
  /** Retention: deletes entries older than `before`, then all but the newest `keep`. */
  purge (policy: { before: Date, keep: number }): Promise<void>
}

export type ClientAuthMethod = 'client_secret_basic' | 'private_key_jwt'

/** A registered OAuth client (an agent). The secret is kept only as a hash. */
export interface ClientRecord {
  clientId: string
  name: string
  scopes: string[]
  authMethod: ClientAuthMethod
  /** `sha256$<base64url>` of the secret, for secret clients. */
  secretHash?: string | undefined
  /** Public keys, for private_key_jwt clients. */
  jwks?: { keys: Array<Record<string, unknown>> } | undefined
  agentType?: string | undefined
  agentVersion?: string | undefined
  createdAt: Date
  createdBy?: string | undefined
  revokedAt?: Date | undefined
  secretRotatedAt?: Date | undefined
}

export interface ClientRepository {
  /** Adds a client; refuses an id that exists. */
  create (client: ClientRecord): Promise<void>
  get (clientId: string): Promise<ClientRecord | undefined>
  /** Every client, oldest first (at most `limit`). */
  list (limit: number): Promise<ClientRecord[]>
  count (): Promise<number>
  /** Changes the given fields; undefined when there is no such client. */
  update (clientId: string, patch: Partial<Pick<ClientRecord, 'secretHash' | 'revokedAt' | 'secretRotatedAt'>>): Promise<ClientRecord | undefined>
}

/**
 * Storage for the authorization server's own records (oidc-provider's Adapter, one model
 * name per kind: ReplayDetection, Grant, ...). Payloads are opaque JSON here.
 */
export interface OAuthPayloadStore {
  upsert (model: string, id: string, payload: Record<string, unknown>, expiresInSeconds?: number): Promise<void>
  find (model: string, id: string): Promise<Record<string, unknown> | undefined>
  findByUserCode (model: string, userCode: string): Promise<Record<string, unknown> | undefined>
  findByUid (model: string, uid: string): Promise<Record<string, unknown> | undefined>
  consume (model: string, id: string): Promise<void>
  destroy (model: string, id: string): Promise<void>
  revokeByGrantId (model: string, grantId: string): Promise<void>
  /** Removes every expired record; returns how many. */
  purgeExpired (now: Date): Promise<number>
  /** Live records of one model, newest first (at most `limit`), with their ids; only one client's with `clientId`. */
  list (model: string, limit: number, clientId?: string): Promise<Array<{ id: string, payload: Record<string, unknown> }>>
}

/** The node's operator account: who signs in to the browser pages to approve apps. */
export interface OperatorAccount {
  /** An Argon2id PHC string; never the password. */
  passwordHash: string
  updatedAt: Date
}

export interface OperatorRepository {
  get (): Promise<OperatorAccount | undefined>
  set (account: OperatorAccount): Promise<void>
}

/** An access token withdrawn before its expiry, remembered until then. */
export interface RevokedToken {
  jti: string
  clientId: string
  expiresAt: Date
}

export interface RevocationRepository {
  add (token: RevokedToken): Promise<void>
  /** Revocations whose tokens have not expired by `now`. */
  listActive (now: Date): Promise<RevokedToken[]>
  purgeExpired (now: Date): Promise<number>
}

/** This node's place in a hive: the hive's id and the credential chain that proves membership. */
export interface HiveMembership {
  hiveId: string
  /** Signed credentials (base64url envelopes): this node's first, the founder's self-issued one last. */
  chain: string[]
  joinedAt: Date
}

/** An invitation this node issued. Only a hash of its secret is kept. */
export interface InvitationRecord {
  id: string
  secretHash: string
  usesLeft: number
  expiresAt: Date
  createdAt: Date
}

/** Why an invitation was not taken: `accepted` is the only outcome that used it up. */
export type InvitationUse = 'accepted' | 'unknown' | 'expired' | 'used'

/** A member removed from the hive, with the signed removal that spreads to other members. */
export interface MemberRemoval {
  peerId: string
  removedBy: string
  removedAt: Date
  /** The signed removal record (base64url envelope), as it travels between members. */
  record: string
}

export interface HiveRepository {
  membership (): Promise<HiveMembership | undefined>
  setMembership (m: HiveMembership): Promise<void>
  /** Forgets this node's membership (it was removed from the hive). */
  clearMembership (): Promise<void>
  addInvitation (i: InvitationRecord): Promise<void>
  /** Takes one use of an invitation, atomically: two joins cannot both take its last use. */
  useInvitation (id: string, secretHash: string, now: Date): Promise<InvitationUse>
  /** Records a removal; false when this peer's removal was known already. */
  addRemoval (r: MemberRemoval): Promise<boolean>
  removals (): Promise<MemberRemoval[]>
}

export type PeerStatus = 'online' | 'offline' | 'untrusted'

/** What the trust score is computed from. */
export interface PeerStats {
  authOk: number
  authFailed: number
  /** Forged, malformed, oversized or out-of-order messages. */
  badMessages: number
  /** Exponentially weighted share of pings answered, 0..1. */
  pingHealth: number
  /** Time connected and proven, in milliseconds, summed over connections. */
  connectedMs: number
}

/** A peer as the node remembers it across restarts. */
export interface PeerRecord {
  peerId: string
  nodeId?: string | undefined
  addresses: string[]
  /** The peer's last accepted capability record (its JSON document) and sequence number. */
  capabilities?: Record<string, unknown> | undefined
  capabilitiesSeq?: number | undefined
  firstSeen: Date
  lastSeen: Date
  status: PeerStatus
  member: boolean
  trust: number
  stats: PeerStats
}

export interface PeerRepository {
  upsert (peer: PeerRecord): Promise<void>
  /** Saves many in one write. */
  upsertMany (peers: PeerRecord[]): Promise<void>
  /** Every known peer, most recently seen first (at most `limit`). */
  list (limit: number): Promise<PeerRecord[]>
}

/** An open store. `close()` is idempotent. */
export interface Store {
  readonly audit: AuditLog
  readonly clients: ClientRepository
  readonly oauthPayloads: OAuthPayloadStore
  readonly revocations: RevocationRepository
  readonly hive: HiveRepository
  readonly peers: PeerRepository
  readonly operator: OperatorRepository
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
