import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { openStore, type Store } from '../../src/store/index.ts'
import { createAdapterFactory } from '../../src/auth/adapter.ts'

const storedKey = (id: string): string => `sha256.${createHash('sha256').update(id).digest('base64url')}`

describe('oidc-provider adapter on the store', () => {
  let store: Store
  let route: string | undefined
  const revokedGrants: string[] = []
  let adapter: ReturnType<typeof createAdapterFactory>
  before(async () => {
    store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' })
    adapter = createAdapterFactory(store, {
      registeredClientTtlSeconds: 60,
      currentRoute: () => route,
      onGrantTokensRevoked: async (grantId) => { revokedGrants.push(grantId) }
    })
  })
  after(async () => { await store.close() })

  it('stores a device code by its hash only; a lookup by user code gives the library the stored key (RFC 8628)', async () => {
    const dc = adapter('DeviceCode')
    await dc.upsert('clear-device-code', { jti: 'clear-device-code', userCode: 'BCDFGHJK', clientId: 'app', kind: 'DeviceCode' } as never, 60)
    assert.equal(await store.oauthPayloads.find('DeviceCode', 'clear-device-code'), undefined, 'not under the clear code')
    const raw = await store.oauthPayloads.find('DeviceCode', storedKey('clear-device-code'))
    assert.ok(raw !== undefined)
    assert.ok(!JSON.stringify(raw).includes('clear-device-code'), 'the clear code is nowhere in the record')
    const byUserCode = await dc.findByUserCode('BCDFGHJK')
    assert.equal(byUserCode?.jti, storedKey('clear-device-code'))
    // The library saves it again by that key (after the person confirms): the same record.
    await dc.upsert(storedKey('clear-device-code'), { ...byUserCode, accountId: 'operator' } as never, 60)
    assert.equal((await store.oauthPayloads.find('DeviceCode', storedKey('clear-device-code')))?.accountId, 'operator')
    assert.equal((await dc.find('clear-device-code'))?.jti, 'clear-device-code', 'the client\'s code finds it')
  })

  it('finds a device code by its stored key only on the library\'s device pages, never at the token endpoint', async () => {
    const dc = adapter('DeviceCode')
    route = 'token'
    assert.equal(await dc.find(storedKey('clear-device-code')), undefined)
    route = undefined
    assert.equal(await dc.find(storedKey('clear-device-code')), undefined)
    route = 'device_resume'
    assert.equal((await dc.find(storedKey('clear-device-code')))?.accountId, 'operator')
    route = undefined
  })

  it('tells the node when the library revokes a grant\'s access tokens', async () => {
    await adapter('AccessToken').revokeByGrantId('grant-1')
    await adapter('RefreshToken').revokeByGrantId('grant-2')
    assert.deepEqual(revokedGrants, ['grant-1'])
  })

  it('never finds a self-registered client the operator revoked', async () => {
    await store.oauthPayloads.upsert('Client', 'ehd_gone', { client_id: 'ehd_gone', revoked_at: new Date().toISOString() }, 60)
    await store.oauthPayloads.upsert('Client', 'ehd_here', { client_id: 'ehd_here' }, 60)
    assert.equal(await adapter('Client').find('ehd_gone'), undefined)
    assert.equal((await adapter('Client').find('ehd_here'))?.client_id, 'ehd_here')
  })
})
