import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type Store } from '../../src/store/index.ts'
import { ClientRegistry, ClientRegistryError, hashClientSecret, newClientSecret, secretMatches } from '../../src/auth/index.ts'

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
