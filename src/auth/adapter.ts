import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { ClientRecord, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import { hashClientSecret } from './secrets.ts'
import { sha256 } from '../shared/hash.ts'

/** Clients that registered themselves (RFC 7591) live in the payload store under this model. */
export const REGISTERED_CLIENT_MODEL = 'Client'

/**
 * Models whose ids are bearer secrets: the store keeps their SHA-256, never the value (codes,
 * refresh tokens, device codes, registration tokens, interactions). Grants and clients are not
 * secrets. Sessions keep their ids: the library finds them by uid and saves them again by id, and
 * a session id is only usable in a cookie signed with keys that live in the running process's
 * memory alone (new at each start), so a copy of the store yields no usable session.
 */
const HASHED_ID_MODELS = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'ClientCredentials', 'RegistrationAccessToken',
  'InitialAccessToken', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest', 'Interaction'
])

const STORED_PREFIX = 'sha256.'

/**
 * Device codes are also found by their user code (RFC 8628 §3.3: the person types it), and the
 * library then saves the code again, and names it in the interaction, by the id the lookup gave
 * it. The clear code is not in the store, so that id is the stored key. Only the library's own
 * device pages may name a code by its stored key: at the token endpoint, where a client presents
 * a device code, every id is hashed, so a stored key copied from the store is worth nothing.
 */
const FOUND_BY_USER_CODE = 'DeviceCode'
const ROUTES_NAMING_STORED_KEYS = new Set(['code_verification', 'device_resume'])

function hashed (id: string): string {
  return `${STORED_PREFIX}${sha256(id)}`
}

/** The client metadata oidc-provider works with, from our registry's record. */
export function clientMetadata (c: ClientRecord): AdapterPayload {
  const base: Record<string, unknown> = {
    client_id: c.clientId,
    client_name: c.name,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: c.scopes.join(' '),
    token_endpoint_auth_method: c.authMethod
  }
  // oidc-provider needs a client_secret for secret methods; ours is the hash, compared by
  // the override in authorization-server.ts, never by equality with what the client sends.
  if (c.authMethod === 'client_secret_basic') base.client_secret = c.secretHash
  else base.jwks = c.jwks
  if (c.agentType !== undefined) base.agent_type = c.agentType
  if (c.agentVersion !== undefined) base.agent_version = c.agentVersion
  return base as AdapterPayload
}

/**
 * oidc-provider's storage, on our store: clients come from the client registry (a revoked
 * client is simply not found, so it cannot authenticate), every other model from the
 * payload store.
 */
export interface AdapterOptions {
  registeredClientTtlSeconds: number
  /** The provider route of the request being served (oidc-provider's `Provider.ctx`), if any. */
  currentRoute?: () => string | undefined
  /**
   * Called (and awaited) when the library revokes a grant's tokens: reuse of a refresh token or
   * code, a refresh token revoked at the revocation endpoint (RFC 7009 §2.1). Access tokens are
   * JWTs the store never holds, so this is where they are stopped.
   */
  onGrantTokensRevoked?: (grantId: string) => Promise<void>
}

export function createAdapterFactory (store: { clients: ClientRepository, oauthPayloads: OAuthPayloadStore },
  options: AdapterOptions = { registeredClientTtlSeconds: 30 * 86_400 }): (model: string) => Adapter {
  return (model: string): Adapter => {
    if (model === 'Client') {
      const p = store.oauthPayloads
      return {
        async find (id: string) {
          const c = await store.clients.get(id)
          if (c !== undefined) return c.revokedAt === undefined ? clientMetadata(c) : undefined
          // A client that registered itself; its secret, if it has one, is kept hashed. One the
          // operator revoked is kept for a while (so it shows as revoked) but never found.
          const registered = await p.find(REGISTERED_CLIENT_MODEL, id)
          return registered === undefined || registered.revoked_at !== undefined ? undefined : registered as AdapterPayload
        },
        async upsert (id: string, payload: AdapterPayload, expiresIn?: number) {
          if (await store.clients.get(id) !== undefined) throw new Error('operator-registered clients change through the client registry')
          const stored: Record<string, unknown> = { ...payload }
          if (typeof stored.client_secret === 'string' && !stored.client_secret.startsWith('sha256$')) stored.client_secret = hashClientSecret(stored.client_secret)
          // An unused registration expires; each token issued to the client renews it.
          await p.upsert(REGISTERED_CLIENT_MODEL, id, stored, expiresIn ?? options.registeredClientTtlSeconds)
        },
        async findByUserCode () { return undefined },
        async findByUid () { return undefined },
        async consume () {},
        async destroy (id: string) { await p.destroy(REGISTERED_CLIENT_MODEL, id) },
        async revokeByGrantId () {}
      }
    }
    const p = store.oauthPayloads
    const hidden = HASHED_ID_MODELS.has(model)
    const byUserCode = model === FOUND_BY_USER_CODE
    /** The store's key for an id: the hash, or, for a device code the library looked up by user code, the key it was given. */
    const storedId = (id: string, lookup: boolean): string => {
      if (!hidden) return id
      if (byUserCode && id.startsWith(STORED_PREFIX)) {
        // Saves, consumes and destroys name an id the library already holds; a lookup by a stored
        // key is allowed only on the device pages, never where a client presents a code.
        if (!lookup || ROUTES_NAMING_STORED_KEYS.has(options.currentRoute?.() ?? '')) return id
      }
      return hashed(id)
    }
    // The token value is also the payload's jti: kept out of the store, put back on read. A device
    // code keeps its stored key as jti, so that a lookup by user code gives the library that key.
    const withJti = (id: string | undefined, payload: Record<string, unknown> | undefined): AdapterPayload | undefined =>
      payload === undefined ? undefined : (hidden && id !== undefined ? { ...payload, jti: id } : payload) as AdapterPayload
    const strip = (id: string, payload: AdapterPayload): Record<string, unknown> => {
      if (!hidden) return payload as Record<string, unknown>
      const { jti: _jti, ...rest } = payload as Record<string, unknown>
      return byUserCode ? { ...rest, jti: storedId(id, false) } : rest
    }
    return {
      async upsert (id, payload, expiresIn) { await p.upsert(model, storedId(id, false), strip(id, payload), expiresIn) },
      async find (id) { return withJti(id, await p.find(model, storedId(id, true))) },
      async findByUserCode (code) { return await p.findByUserCode(model, code) as AdapterPayload | undefined },
      async findByUid (uid) { return await p.findByUid(model, uid) as AdapterPayload | undefined },
      async consume (id) { await p.consume(model, storedId(id, false)) },
      async destroy (id) { await p.destroy(model, storedId(id, false)) },
      async revokeByGrantId (grantId) {
        await p.revokeByGrantId(model, grantId)
        if (model === 'AccessToken') await options.onGrantTokensRevoked?.(grantId)
      }
    }
  }
}
