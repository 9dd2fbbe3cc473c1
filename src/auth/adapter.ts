import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { ClientRecord, ClientRepository, OAuthPayloadStore } from '../store/index.ts'

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
export function createAdapterFactory (store: { clients: ClientRepository, oauthPayloads: OAuthPayloadStore }): (model: string) => Adapter {
  return (model: string): Adapter => {
    if (model === 'Client') {
      return {
        async find (id: string) {
          const c = await store.clients.get(id)
          return c === undefined || c.revokedAt !== undefined ? undefined : clientMetadata(c)
        },
        async upsert () { throw new Error('clients are registered through the client registry') },
        async findByUserCode () { return undefined },
        async findByUid () { return undefined },
        async consume () {},
        async destroy () {},
        async revokeByGrantId () {}
      }
    }
    const p = store.oauthPayloads
    return {
      async upsert (id, payload, expiresIn) { await p.upsert(model, id, payload as Record<string, unknown>, expiresIn) },
      async find (id) { return await p.find(model, id) as AdapterPayload | undefined },
      async findByUserCode (code) { return await p.findByUserCode(model, code) as AdapterPayload | undefined },
      async findByUid (uid) { return await p.findByUid(model, uid) as AdapterPayload | undefined },
      async consume (id) { await p.consume(model, id) },
      async destroy (id) { await p.destroy(model, id) },
      async revokeByGrantId (grantId) { await p.revokeByGrantId(model, grantId) }
    }
  }
}
