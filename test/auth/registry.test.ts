import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type Store } from '../../src/store/index.ts'
import { ClientRegistry, ClientRegistryError, RevocationList, grantRevocationKey, hashClientSecret, newClientSecret, operatorAdministration, secretMatches } from '../../src/auth/index.ts'

describe('client secrets', () => {
  it('are 256-bit random, stored as a hash, and compared by hash', () => {
    const s = newClientSecret()
    assert.match(s, /^ehs_[A-Za-z0-9_-]{43}$/)
    assert.notEqual(newClientSecret(), s)
    const h = hashClientSecret(s)
    assert.match(h, /^sha256\$/)
    assert.ok(!h.includes(s.slice(4)))
    assert.equal(secretMatches(s, h), true)
    assert.equal(secretMatches(`${s}x`, h), false)
    assert.equal(secretMatches(s, undefined), false)
    assert.equal(secretMatches(s, s), false, 'a stored value that is not a hash never matches')
  })
})

describe('client registry', () => {
  let store: Store
  let registry: ClientRegistry
  const revoked: string[] = []
  before(async () => {
    store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' })
    registry = new ClientRegistry({ clients: store.clients, audit: store.audit }, (id) => revoked.push(id))
  })
  after(async () => { await store.close() })

  const code = (fn: () => Promise<unknown>): Promise<string> => fn().then(() => 'ok', (e: unknown) => {
    assert.ok(e instanceof ClientRegistryError, String(e))
    return e.code
  })

  it('adds a secret client, returns the secret once and stores only its hash', async () => {
    const { client, secret } = await registry.add({ name: 'agent', scopes: ['mcp:call', 'mcp:read'], agentType: 'claude' }, 'operator')
    assert.deepEqual(client.scopes, ['mcp:read', 'mcp:call'], 'in canonical order')
    assert.equal(client.auth_method, 'client_secret_basic')
    assert.equal(client.created_by, 'operator')
    const stored = await store.clients.get(client.client_id)
    assert.equal(stored?.secretHash, hashClientSecret(secret!))
    assert.ok(!JSON.stringify(await registry.get(client.client_id)).includes('sha256'), 'views never show the hash')
  })

  it('refuses unknown scopes, no scopes, bad names and private keys in jwks', async () => {
    assert.equal(await code(() => registry.add({ name: 'x', scopes: ['mcp:root'] }, 'op')), 'invalid_scope')
    assert.equal(await code(() => registry.add({ name: 'x', scopes: [] }, 'op')), 'invalid_scope')
    assert.equal(await code(() => registry.add({ name: '', scopes: ['mcp:read'] }, 'op')), 'invalid_client_metadata')
    assert.equal(await code(() => registry.add({ name: 'x', scopes: ['mcp:read'], agentType: 'bad type!' }, 'op')), 'invalid_client_metadata')
    assert.equal(await code(() => registry.add({ name: 'x', scopes: ['mcp:read'], jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'a', d: 'secret' }] } }, 'op')), 'invalid_client_metadata')
  })

  it('revokes (telling the resource server), and refuses to rotate a revoked client', async () => {
    const { client } = await registry.add({ name: 'gone', scopes: ['mcp:read'] }, 'op')
    const view = await registry.revoke(client.client_id, 'op')
    assert.equal(view.status, 'revoked')
    assert.deepEqual(revoked, [client.client_id])
    assert.ok((await registry.revokedIds()).includes(client.client_id))
    assert.equal(await code(() => registry.rotateSecret(client.client_id, 'op')), 'client_revoked')
    assert.equal(await code(() => registry.revoke('ehc_nope', 'op')), 'unknown_client')
  })

  it('rotates a secret: the old hash is replaced', async () => {
    const { client, secret } = await registry.add({ name: 'rot', scopes: ['mcp:read'] }, 'op')
    const { secret: fresh } = await registry.rotateSecret(client.client_id, 'op')
    const stored = await store.clients.get(client.client_id)
    assert.equal(secretMatches(fresh, stored?.secretHash), true)
    assert.equal(secretMatches(secret!, stored?.secretHash), false)
  })

  it('audits every change', async () => {
    const actions = (await store.audit.list({ limit: 100 })).map((e) => e.action)
    for (const a of ['client.added', 'client.revoked', 'client.secret_rotated']) assert.ok(actions.includes(a), a)
  })
})

describe('client registry: apps that registered themselves', () => {
  let store: Store
  let registry: ClientRegistry
  let revocations: RevocationList
  const revoked: string[] = []
  before(async () => {
    store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' })
    revocations = new RevocationList(store.revocations)
    registry = operatorAdministration({ clients: store.clients, oauthPayloads: store.oauthPayloads, revocations, audit: store.audit }, {
      accessTokenTtlSeconds: 300, registeredClientTtlSeconds: 3600, onClientRevoked: (id) => revoked.push(id)
    }).registry
    // What oidc-provider stores for a registration and an approval (its Grant model).
    await store.oauthPayloads.upsert('Client', 'ehd_app', { client_id: 'ehd_app', client_name: 'An app', token_endpoint_auth_method: 'none', scope: 'mcp:admin', client_id_issued_at: 1 }, 3600)
    await store.oauthPayloads.upsert('Grant', 'G1', { clientId: 'ehd_app', accountId: 'operator', iat: 1, resources: { 'https://n/mcp': 'mcp:read' }, openid: { scope: 'mcp:read offline_access' } }, 3600)
    await store.oauthPayloads.upsert('RefreshToken', 'sha256.rt', { clientId: 'ehd_app', grantId: 'G1' }, 3600)
  })
  after(async () => { await store.close() })

  it('lists and shows them with the scopes the operator granted, never the scope they registered with', async () => {
    const view = await registry.get('ehd_app')
    assert.equal(view.registered_by, 'itself')
    assert.deepEqual(view.scopes.sort(), ['mcp:read', 'offline_access'])
    assert.equal(view.auth_method, 'none')
    assert.ok((await registry.list()).some((c) => c.client_id === 'ehd_app'))
  })

  it('revokes one: its grants and refresh tokens go, its access tokens are refused by grant, and it stays revoked', async () => {
    const view = await registry.revoke('ehd_app', 'operator')
    assert.equal(view.status, 'revoked')
    assert.deepEqual(revoked, ['ehd_app'])
    assert.equal(await store.oauthPayloads.find('Grant', 'G1'), undefined)
    assert.equal(await store.oauthPayloads.find('RefreshToken', 'sha256.rt'), undefined)
    assert.equal(revocations.isRevoked(grantRevocationKey('G1')), true)
    assert.ok((await registry.revokedIds()).includes('ehd_app'))
    assert.equal((await registry.get('ehd_app')).status, 'revoked')
    assert.equal((await registry.revoke('ehd_app', 'operator')).status, 'revoked', 'again: no change, no error')
    assert.deepEqual(revoked, ['ehd_app'], 'told once')
    await assert.rejects(registry.rotateSecret('ehd_app', 'operator'), (e: unknown) => e instanceof ClientRegistryError && e.code === 'self_registered')
    const audit = await store.audit.list({ limit: 100 })
    assert.ok(audit.some((e) => e.action === 'grant.revoked' && (e.detail as { reason?: string } | undefined)?.reason === 'client_revoked'))
  })
})
