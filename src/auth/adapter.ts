import { createHash } from 'node:crypto'
import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { ClientRecord, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import { hashClientSecret } from './secrets.ts'

/** Clients that registered themselves (RFC 7591) live in the payload store under this model. */
export const REGISTERED_CLIENT_MODEL = 'Client'

/**
 * Models whose ids are bearer secrets that the library only ever looks up by id: the store keeps
 * their SHA-256, never the value (codes, refresh tokens, registration tokens, interactions).
 * Sessions and device codes keep their ids, because the library finds them by uid and user code
 * and then saves them again by id; grants and clients are not secrets.
 */
const HASHED_ID_MODELS = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'ClientCredentials', 'RegistrationAccessToken',
  'InitialAccessToken', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest', 'Interaction'
])

function storedId (model: string, id: string): string {
  return HASHED_ID_MODELS.has(model) ? `sha256.${createHash('sha256').update(id).digest('base64url')}` : id
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
export function createAdapterFactory (store: { clients: ClientRepository, oauthPayloads: OAuthPayloadStore }, options: { registeredClientTtlSeconds: number } = { registeredClientTtlSeconds: 30 * 86_400 }): (model: string) => Adapter {
  return (model: string): Adapter => {
    if (model === 'Client') {
      const p = store.oauthPayloads
      return {
        async find (id: string) {
          const c = await store.clients.get(id)
          if (c !== undefined) return c.revokedAt === undefined ? clientMetadata(c) : undefined
          // A client that registered itself; its secret, if it has one, is kept hashed.
          return await p.find(REGISTERED_CLIENT_MODEL, id) as AdapterPayload | undefined
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
    // The token value is also the payload's jti: kept out of the store, put back on read.
    const withJti = (id: string | undefined, payload: Record<string, unknown> | undefined): AdapterPayload | undefined =>
      payload === undefined ? undefined : (hidden && id !== undefined ? { ...payload, jti: id } : payload) as AdapterPayload
    const strip = (payload: AdapterPayload): Record<string, unknown> => {
      if (!hidden) return payload as Record<string, unknown>
      const { jti: _jti, ...rest } = payload as Record<string, unknown>
      return rest
    }
    return {
      async upsert (id, payload, expiresIn) { await p.upsert(model, storedId(model, id), strip(payload), expiresIn) },
      async find (id) { return withJti(id, await p.find(model, storedId(model, id))) },
      async findByUserCode (code) { return await p.findByUserCode(model, code) as AdapterPayload | undefined },
      async findByUid (uid) { return await p.findByUid(model, uid) as AdapterPayload | undefined },
      async consume (id) { await p.consume(model, storedId(model, id)) },
      async destroy (id) { await p.destroy(model, storedId(model, id)) },
      async revokeByGrantId (grantId) { await p.revokeByGrantId(model, grantId) }
    }
  }
}
