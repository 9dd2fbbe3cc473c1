import type { AuditLog, OAuthPayloadStore } from '../store/index.ts'
import { REGISTERED_CLIENT_MODEL } from './adapter.ts'
import type { ClientView } from './client-registry.ts'
import type { Grants } from './grants.ts'

export interface RegisteredClientComponents {
  oauthPayloads: OAuthPayloadStore
  grants: Grants
  audit: AuditLog
}

export interface RegisteredClientOptions {
  /** How long access tokens live: a revoked registration is kept at least that long. */
  accessTokenTtlSeconds: number
  /** How long an unused registration lives: a revoked one is shown as revoked that long. */
  registeredClientTtlSeconds: number
}

const MAX_LISTED = 10_000
const AUTH_METHODS = new Set<ClientView['auth_method']>(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])

/**
 * The apps that registered themselves (RFC 7591), as the operator sees and revokes them. Their
 * metadata is theirs to choose, so nothing here is taken from it as a right: a view shows the
 * scopes their grants hold (what the operator approved), not the `scope` they registered with.
 */
export class RegisteredClients {
  readonly #c: RegisteredClientComponents
  readonly #keepRevokedSeconds: number

  constructor (components: RegisteredClientComponents, options: RegisteredClientOptions) {
    this.#c = components
    this.#keepRevokedSeconds = Math.max(options.accessTokenTtlSeconds, options.registeredClientTtlSeconds)
  }

  async get (clientId: string): Promise<ClientView | undefined> {
    const meta = await this.#c.oauthPayloads.find(REGISTERED_CLIENT_MODEL, clientId)
    return meta === undefined ? undefined : await this.#view(clientId, meta)
  }

  async list (): Promise<ClientView[]> {
    const rows = await this.#c.oauthPayloads.list(REGISTERED_CLIENT_MODEL, MAX_LISTED)
    const scopes = new Map<string, Set<string>>()
    for (const g of await this.#c.grants.list()) {
      const s = scopes.get(g.client_id) ?? new Set<string>()
      for (const x of g.scopes) s.add(x)
      scopes.set(g.client_id, s)
    }
    return rows.map(({ id, payload }) => viewOf(id, payload, [...scopes.get(id) ?? []]))
  }

  /**
   * Revokes a self-registered app: its grants end (their refresh tokens and codes go, their access
   * tokens stop at once), it can no longer authenticate, and its registration is kept, marked
   * revoked, so that the operator sees it and the node refuses its tokens after a restart too.
   * Undefined when no app registered itself with that id.
   */
  async revoke (clientId: string, actor: string): Promise<{ view: ClientView, changed: boolean } | undefined> {
    const meta = await this.#c.oauthPayloads.find(REGISTERED_CLIENT_MODEL, clientId)
    if (meta === undefined) return undefined
    if (meta.revoked_at !== undefined) return { view: await this.#view(clientId, meta), changed: false }
    const tombstone = { ...meta, revoked_at: new Date().toISOString() }
    // First the registration, so that no new token is issued while the grants end.
    await this.#c.oauthPayloads.upsert(REGISTERED_CLIENT_MODEL, clientId, tombstone, this.#keepRevokedSeconds)
    const grants = await this.#c.grants.revokeAllOf(clientId, actor, 'client_revoked')
    await this.#c.audit.append({ actor, action: 'client.revoked', target: clientId, outcome: 'success', detail: { registered_by: 'itself', grants } })
    return { view: await this.#view(clientId, tombstone), changed: true }
  }

  /** Ids of revoked self-registered apps still remembered, to refuse their tokens without a lookup. */
  async revokedIds (): Promise<string[]> {
    return (await this.#c.oauthPayloads.list(REGISTERED_CLIENT_MODEL, MAX_LISTED)).filter((r) => r.payload.revoked_at !== undefined).map((r) => r.id)
  }

  async #view (clientId: string, meta: Record<string, unknown>): Promise<ClientView> {
    return viewOf(clientId, meta, [...new Set((await this.#c.grants.list(clientId)).flatMap((g) => g.scopes))])
  }
}

/** How the operator sees a self-registered app: `scopes` are what its grants hold. */
function viewOf (clientId: string, meta: Record<string, unknown>, scopes: string[]): ClientView {
  const method = String(meta.token_endpoint_auth_method ?? 'client_secret_basic') as ClientView['auth_method']
  const issued = typeof meta.client_id_issued_at === 'number' ? new Date(meta.client_id_issued_at * 1000) : undefined
  const revokedAt = typeof meta.revoked_at === 'string' ? meta.revoked_at : undefined
  return {
    client_id: clientId,
    name: typeof meta.client_name === 'string' ? meta.client_name : clientId,
    scopes,
    auth_method: AUTH_METHODS.has(method) ? method : 'client_secret_basic',
    created_at: (issued ?? new Date(0)).toISOString(),
    registered_by: 'itself',
    ...(revokedAt === undefined ? {} : { revoked_at: revokedAt }),
    status: revokedAt === undefined ? 'active' : 'revoked'
  }
}
