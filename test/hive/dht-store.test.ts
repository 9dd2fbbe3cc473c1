import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Key } from 'interface-datastore'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Record as DhtRecord } from '@libp2p/kad-dht'
import { BoundedDatastore } from '../../src/hive/dht-store.ts'
import { capabilityKey, capabilityValidator, peerOfCapabilityKey, refuseRecord } from '../../src/hive/dht-records.ts'
import { nodeIdOf, sealCapabilities } from '../../src/hive/protocols/caps.ts'

const bytes = (n: number): Uint8Array => new Uint8Array(n)

describe('the DHT datastore ceiling', () => {
  it('refuses a new record past the count or byte ceiling of its part, and frees room on delete', async () => {
    const ds = new BoundedDatastore([{ prefix: '/dht/record/', maxEntries: 3, maxBytes: 100 }])
    await ds.put(new Key('/dht/record/a'), bytes(10))
    await ds.put(new Key('/dht/record/b'), bytes(10))
    await ds.put(new Key('/dht/record/c'), bytes(10))
    assert.throws(() => ds.put(new Key('/dht/record/d'), bytes(1)), { code: 'ERR_STORE_FULL' })
    await ds.put(new Key('/dht/record/a'), bytes(20))
    assert.deepEqual(ds.usage('/dht/record/'), { entries: 3, bytes: 40 }, 'overwriting a key counts its new size, not a new entry')
    assert.throws(() => ds.put(new Key('/dht/record/a'), bytes(90)), { code: 'ERR_STORE_FULL' })
    await ds.delete(new Key('/dht/record/b'))
    await ds.put(new Key('/dht/record/d'), bytes(10))
    assert.deepEqual(ds.usage('/dht/record/'), { entries: 3, bytes: 40 })
    await ds.put(new Key('/peers/anyone'), bytes(10_000))
    assert.ok(await ds.has(new Key('/peers/anyone')), 'keys outside the limited parts are not limited')
  })

  it('keeps no provider records by default, and deletes the records a predicate picks', async () => {
    const ds = new BoundedDatastore()
    assert.throws(() => ds.put(new Key('/dht/provider/abc/def'), bytes(8)), { code: 'ERR_STORE_FULL' })
    const rec = (k: string): Uint8Array => new DhtRecord(new TextEncoder().encode(k), bytes(4), new Date()).serialize()
    await ds.put(new Key('/dht/record/one'), rec('/edge-hive-caps/one'))
    await ds.put(new Key('/dht/record/two'), rec('/edge-hive-caps/two'))
    assert.equal(await ds.deleteRecords((k) => new TextDecoder().decode(k).endsWith('/one')), 1)
    assert.deepEqual(ds.usage('/dht/record/')?.entries, 1)
    assert.equal(await ds.has(new Key('/dht/record/one')), false)
  })
})

describe('the DHT validators', () => {
  it('keep a capability advert only when the peer its key names is a member and signed it', async () => {
    const [mk, sk] = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')]
    const [memberId, strangerId] = [peerIdFromPrivateKey(mk).toString(), peerIdFromPrivateKey(sk).toString()]
    const validate = capabilityValidator((p) => p === memberId)
    const advert = async (key: typeof mk, id: string): Promise<Uint8Array> =>
      new Uint8Array(Buffer.from(await sealCapabilities(key, { peer_id: id, node_id: nodeIdOf(id), seq: 1 }), 'base64url'))
    await validate(capabilityKey(memberId), await advert(mk, memberId))
    await assert.rejects(validate(capabilityKey(strangerId), await advert(sk, strangerId)), { code: 'ERR_RECORD_REFUSED' }, 'a stranger\'s own advert')
    await assert.rejects(validate(capabilityKey(memberId), await advert(sk, memberId)), /does not verify|not signed/, 'an advert in a member\'s name, signed by another')
    await assert.rejects(validate(new TextEncoder().encode(`/edge-hive-caps/${memberId}/x`), await advert(mk, memberId)), { code: 'ERR_RECORD_REFUSED' })
    assert.equal(peerOfCapabilityKey(new TextEncoder().encode('/edge-hive-caps/not-a-peer-id')), undefined)
    assert.throws(() => refuseRecord(), { code: 'ERR_RECORD_REFUSED' })
  })
})
