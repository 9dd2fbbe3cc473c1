// The client repository the node uses reads through a cache (src/store/cached-clients.ts): a
// change through it is seen at once, also one that overlaps a read, on the real embedded store.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type Store, type ClientRecord } from '../../src/store/index.ts'

const client = (id: string): ClientRecord => ({ clientId: id, name: id, scopes: ['mcp:read'], authMethod: 'client_secret_basic', secretHash: 'sha256$x', createdAt: new Date() })

describe('cached client repository (embedded SurrealDB, mem://)', () => {
  let store: Store
  before(async () => { store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' }) })
  after(async () => { await store.close() })

  it('sees a revocation and a new secret at once', async () => {
    await store.clients.create(client('c-revoke'))
    assert.equal((await store.clients.get('c-revoke'))?.revokedAt, undefined)
    assert.equal((await store.clients.get('c-revoke'))?.revokedAt, undefined, 'read again (from the cache)')
    const at = new Date()
    await store.clients.update('c-revoke', { revokedAt: at, secretHash: 'sha256$y' })
    const after = await store.clients.get('c-revoke')
    assert.equal(after?.revokedAt?.getTime(), at.getTime())
    assert.equal(after?.secretHash, 'sha256$y')
  })

  it('finds a client made after its id was looked up and not found', async () => {
    assert.equal(await store.clients.get('c-later'), undefined)
    await store.clients.create(client('c-later'))
    assert.equal((await store.clients.get('c-later'))?.clientId, 'c-later')
  })

  it('does not keep a read that a change overlapped', async () => {
    await store.clients.create(client('c-race'))
    // The read starts before the revocation and may answer with the record from before it.
    const reading = store.clients.get('c-race')
    await store.clients.update('c-race', { revokedAt: new Date() })
    await reading
    assert.ok((await store.clients.get('c-race'))?.revokedAt !== undefined, 'the revocation, not the overlapping read')
  })

  it('shares records read-only', async () => {
    await store.clients.create(client('c-frozen'))
    const c = await store.clients.get('c-frozen')
    assert.throws(() => { (c as { name: string }).name = 'changed' }, TypeError)
    assert.throws(() => { (c!.scopes as string[]).push('mcp:admin') }, TypeError)
  })
})
