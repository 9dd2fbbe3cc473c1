import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type Store } from '../../src/store/index.ts'

describe('OAuth repositories (embedded SurrealDB, mem://)', () => {
  let store: Store
  before(async () => { store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' }) })
  after(async () => { await store.close() })

  it('creates, reads, lists and updates clients, and never reuses an id', async () => {
    const createdAt = new Date('2026-01-01T00:00:00Z')
    await store.clients.create({ clientId: 'c1', name: 'one', scopes: ['mcp:read'], authMethod: 'client_secret_basic', secretHash: 'sha256$x', createdAt, agentType: 'claude' })
    await store.clients.create({
      clientId: 'c2', name: 'two', scopes: ['mcp:admin'], authMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc' }] },
      createdAt: new Date(createdAt.getTime() + 1000)
    })
    await assert.rejects(store.clients.create({ clientId: 'c1', name: 'again', scopes: [], authMethod: 'client_secret_basic', createdAt }))
    const one = await store.clients.get('c1')
    assert.equal(one?.name, 'one')
    assert.equal(one?.agentType, 'claude')
    assert.equal(one?.createdAt.toISOString(), createdAt.toISOString())
    assert.equal(one?.revokedAt, undefined)
    assert.deepEqual((await store.clients.get('c2'))?.jwks, { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc' }] })
    assert.deepEqual((await store.clients.list(10)).map((c) => c.clientId), ['c1', 'c2'])
    assert.equal(await store.clients.count(), 2)
    const revokedAt = new Date()
    const updated = await store.clients.update('c1', { revokedAt, secretHash: 'sha256$y' })
    assert.equal(updated?.revokedAt?.getTime(), revokedAt.getTime())
    assert.equal(updated?.secretHash, 'sha256$y')
    assert.equal(updated?.name, 'one', 'other fields kept')
    assert.equal(await store.clients.get('nope'), undefined)
    assert.equal(await store.clients.update('nope', { revokedAt }), undefined)
  })

  it('stores provider payloads per model, finds them by id, user code, uid and grant, and expires them', async () => {
    const p = store.oauthPayloads
    await p.upsert('Grant', 'g1', { accountId: 'a', grantId: 'G' }, 60)
    await p.upsert('AccessToken', 'g1', { kind: 'AccessToken', grantId: 'G' }, 60)
    await p.upsert('DeviceCode', 'd1', { userCode: 'ABCD-EFGH', grantId: 'G2' }, 60)
    await p.upsert('Session', 's1', { uid: 'u1' }, 60)
    await p.upsert('ReplayDetection', 'old', { x: 1 }, -1)
    assert.deepEqual(await p.find('Grant', 'g1'), { accountId: 'a', grantId: 'G' })
    assert.equal((await p.find('AccessToken', 'g1'))?.kind, 'AccessToken', 'models do not collide')
    assert.equal((await p.findByUserCode('DeviceCode', 'ABCD-EFGH'))?.grantId, 'G2')
    assert.deepEqual(await p.findByUid('Session', 'u1'), { uid: 'u1' })
    assert.equal(await p.find('ReplayDetection', 'old'), undefined, 'expired records are not found')
    await p.consume('Grant', 'g1')
    assert.equal(typeof (await p.find('Grant', 'g1'))?.consumed, 'number')
    await p.revokeByGrantId('AccessToken', 'G')
    assert.equal(await p.find('AccessToken', 'g1'), undefined)
    assert.notEqual(await p.find('Grant', 'g1'), undefined, 'only the named model')
    await p.upsert('Grant', 'g2', { clientId: 'app-1', iat: 1 }, 60)
    await p.upsert('Grant', 'g3', { clientId: 'app-2', iat: 2 }, 60)
    await p.upsert('Client', 'app-1', { client_id: 'app-1' }, 60)
    assert.deepEqual((await p.list('Grant', 10, 'app-1')).map((r) => r.id), ['g2'], 'one client\'s grants')
    assert.deepEqual((await p.list('Client', 10, 'app-1')).map((r) => r.id), ['app-1'], 'a registration, by its client_id')
    assert.equal((await p.list('Grant', 10)).length, 3)
    await p.destroy('Grant', 'g1')
    assert.equal(await p.find('Grant', 'g1'), undefined)
    assert.equal(await p.purgeExpired(new Date()), 1)
  })

  it('remembers revoked tokens until they expire', async () => {
    const now = new Date()
    await store.revocations.add({ jti: 'j1', clientId: 'c1', expiresAt: new Date(now.getTime() + 60_000) })
    await store.revocations.add({ jti: 'j0', clientId: 'c1', expiresAt: new Date(now.getTime() - 1000) })
    assert.deepEqual((await store.revocations.listActive(now)).map((r) => r.jti), ['j1'])
    assert.equal(await store.revocations.purgeExpired(now), 1)
    assert.equal((await store.revocations.listActive(new Date(now.getTime() + 120_000))).length, 0)
  })
})
