import type { AuditLog, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import { REGISTERED_CLIENT_MODEL } from './adapter.ts'
import type { RevocationList } from './revocation-list.ts'
import { grantRevocationKey } from './token-verifier.ts'

/** An approval the operator gave an app, as `edge-hive grants list` shows it. */
export interface GrantView {
  grant_id: string
  client_id: string
  client_name: string
  scopes: string[]
  created_at: string
  expires_at?: string
}

/** Why a grant ended, for the audit log. */
export type GrantEnd = 'operator' | 'client_revoked' | 'refresh_token_reuse' | 'code_reuse' | 'refresh_token_revoked' | 'provider'

export interface GrantComponents {
  oauthPayloads: OAuthPayloadStore
  clients: ClientRepository
  revocations: RevocationList
  audit: AuditLog
}

export interface GrantOptions {
  /** How long access tokens live: a grant's revocation is remembered that long. */
  accessTokenTtlSeconds: number
}

/** The models whose records belong to a grant and go with it (oidc-provider's `revoke` helper does the same). */
const GRANT_MODELS = ['RefreshToken', 'AuthorizationCode', 'DeviceCode', 'AccessToken', 'BackchannelAuthenticationRequest']
const GRANT_MODEL = 'Grant'
/** At most this many grants are listed or ended at once for one client (there is normally one). */
const MAX_GRANTS = 10_000

/**
 * The operator's approvals (oidc-provider's Grant model, read and ended through the same store
 * the library's adapter writes, so that this also works while the node is stopped). Every way a
 * grant ends goes through `stopAccessTokens`: the access tokens are JWTs the store never holds,
 * and each carries `grant_id`, so the revocation list refuses them by their grant at once.
 */
export class Grants {
  readonly #c: GrantComponents
  readonly #accessTtlMs: number

  constructor (components: GrantComponents, options: GrantOptions) {
    this.#c = components
    this.#accessTtlMs = options.accessTokenTtlSeconds * 1000
  }

  /** Grants the operator approved, newest first; only one client's with `clientId`. */
  async list (clientId?: string): Promise<GrantView[]> {
    const rows = await this.#c.oauthPayloads.list(GRANT_MODEL, MAX_GRANTS, clientId)
    const names = new Map<string, string>()
    return await Promise.all(rows.map(async ({ id, payload }) => {
      const owner = String(payload.clientId)
      if (!names.has(owner)) names.set(owner, await this.#clientName(owner))
      return {
        grant_id: id,
        client_id: owner,
        client_name: names.get(owner) ?? owner,
        scopes: scopesOf(payload),
        created_at: new Date(Number(payload.iat) * 1000).toISOString(),
        ...(typeof payload.exp === 'number' ? { expires_at: new Date(payload.exp * 1000).toISOString() } : {})
      }
    }))
  }

  /** The newest live grant `accountId` gave `clientId`, if any. */
  async newestFor (clientId: string, accountId: string): Promise<string | undefined> {
    const rows = await this.#c.oauthPayloads.list(GRANT_MODEL, MAX_GRANTS, clientId)
    return rows.find((r) => r.payload.clientId === clientId && r.payload.accountId === accountId)?.id
  }

  /**
   * Ends a grant: its refresh tokens and codes go, and its access tokens stop working at once.
   * False when there is no such grant.
   */
  async revoke (grantId: string, actor: string, why: GrantEnd = 'operator'): Promise<boolean> {
    const grant = await this.#c.oauthPayloads.find(GRANT_MODEL, grantId)
    if (grant === undefined) return false
    const clientId = String(grant.clientId)
    for (const model of GRANT_MODELS) await this.#c.oauthPayloads.revokeByGrantId(model, grantId)
    await this.#c.oauthPayloads.destroy(GRANT_MODEL, grantId)
    await this.stopAccessTokens(grantId, clientId)
    await this.recordEnd(grantId, clientId, actor, why)
    return true
  }

  /** Ends every grant of a client; returns how many. */
  async revokeAllOf (clientId: string, actor: string, why: GrantEnd): Promise<number> {
    const rows = await this.#c.oauthPayloads.list(GRANT_MODEL, MAX_GRANTS, clientId)
    let n = 0
    for (const { id } of rows) if (await this.revoke(id, actor, why)) n++
    return n
  }

  /**
   * Makes the resource server refuse every access token of a grant from now on: they carry
   * `grant_id`, and none lives longer than the access token lifetime, so the revocation is
   * remembered (across restarts) that long.
   */
  async stopAccessTokens (grantId: string, clientId = 'unknown'): Promise<void> {
    await this.#c.revocations.revoke(grantRevocationKey(grantId), clientId, new Date(Date.now() + this.#accessTtlMs))
  }

  /** Audits the end of a grant. */
  async recordEnd (grantId: string, clientId: string, actor: string, why: GrantEnd): Promise<void> {
    await this.#c.audit.append({ actor, action: 'grant.revoked', target: clientId, outcome: 'success', detail: { grant_id: grantId, reason: why } })
  }

  async #clientName (clientId: string): Promise<string> {
    try {
      const own = await this.#c.clients.get(clientId)
      if (own !== undefined) return own.name
      const registered = await this.#c.oauthPayloads.find(REGISTERED_CLIENT_MODEL, clientId)
      return typeof registered?.client_name === 'string' ? registered.client_name : clientId
    } catch {
      return clientId
    }
  }
}

/** The scopes a stored grant gives: this node's (granted for its one resource) and offline_access. */
export function scopesOf (payload: Record<string, unknown>): string[] {
  const resources = Object.values((payload.resources ?? {}) as Record<string, string>)
  const own = String((payload.openid as { scope?: string } | undefined)?.scope ?? '')
  return [...new Set([...resources, own].flatMap((s) => String(s).split(' ')))].filter((s) => s !== '')
}
