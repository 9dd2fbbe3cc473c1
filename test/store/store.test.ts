import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type Store } from '../../src/store/index.ts'

describe('store (embedded SurrealDB, mem://)', () => {
  let store: Store
  before(async () => { store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' }) })
  after(async () => { await store.close() })

  it('applies the migrations and answers a ping', async () => {
    assert.ok(store.schemaVersion >= 1)
    assert.equal(await store.ping(), true)
  })

  it('appends audit entries and lists them newest first, within a limit and a time window', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z')
    for (let i = 0; i < 5; i++) {
      await store.audit.append({ at: new Date(t0.getTime() + i * 1000), actor: `c${i}`, action: 'token.issued', outcome: i % 2 === 0 ? 'success' : 'failure', source: '127.0.0.1', detail: { i } })
    }
    const all = await store.audit.list({ limit: 100, since: t0 })
    assert.deepEqual(all.map((e) => e.actor), ['c4', 'c3', 'c2', 'c1', 'c0'])
    assert.deepEqual(all[0]!.detail, { i: 4 })
    assert.equal(all[1]!.outcome, 'failure')
    assert.ok(all[0]!.at instanceof Date)
    const two = await store.audit.list({ limit: 2, since: t0 })
    assert.deepEqual(two.map((e) => e.actor), ['c4', 'c3'])
    const window = await store.audit.list({ limit: 100, since: new Date(t0.getTime() + 1000), until: new Date(t0.getTime() + 3000) })
    assert.deepEqual(window.map((e) => e.actor), ['c2', 'c1'])
  })

  it('finds entries by time to the millisecond, also around a whole second', async () => {
    const t0 = Date.parse('2026-03-01T00:00:00Z')
    for (const ms of [-1, 0, 1, 999, 1000, 1001, 1999, 2000]) await store.audit.append({ at: new Date(t0 + ms), actor: `w${ms}`, action: 'time.window', outcome: 'success' })
    const window = async (since: number | undefined, until: number | undefined): Promise<string[]> =>
      (await store.audit.list({ limit: 100, ...(since === undefined ? {} : { since: new Date(t0 + since) }), ...(until === undefined ? {} : { until: new Date(t0 + until) }) }))
        .filter((e) => e.action === 'time.window').map((e) => e.actor).reverse()
    assert.deepEqual(await window(0, undefined), ['w0', 'w1', 'w999', 'w1000', 'w1001', 'w1999', 'w2000'])
    assert.deepEqual(await window(undefined, 1000), ['w-1', 'w0', 'w1', 'w999'])
    assert.deepEqual(await window(0, 1000), ['w0', 'w1', 'w999'])
    assert.deepEqual(await window(1, 1001), ['w1', 'w999', 'w1000'])
  })

  it('refuses an entry with an outcome outside the schema and keeps what was there', async () => {
    const before = (await store.audit.list({ limit: 1000 })).length
    await assert.rejects(store.audit.append({ actor: 'x', action: 'y', outcome: 'maybe' as 'success' }))
    assert.equal((await store.audit.list({ limit: 1000 })).length, before)
  })

  it('stores appends that arrive together (written in batches), and fails only a bad one among them', async () => {
    const t0 = new Date('2026-02-01T00:00:00Z')
    const appends = Array.from({ length: 150 }, async (_, i) => await store.audit.append({
      at: new Date(t0.getTime() + i), actor: `batch-${i}`, action: 'token.issued', outcome: i === 77 ? 'maybe' as 'success' : 'success'
    }))
    const settled = await Promise.allSettled(appends)
    assert.deepEqual(settled.map((r, i) => r.status === 'rejected' ? i : -1).filter((i) => i >= 0), [77], 'only the bad entry fails')
    const stored = await store.audit.list({ limit: 1000, since: t0, until: new Date(t0.getTime() + 1000) })
    assert.equal(stored.length, 149)
    assert.deepEqual(stored.map((e) => e.actor).sort(), Array.from({ length: 150 }, (_, i) => `batch-${i}`).filter((a) => a !== 'batch-77').sort())
  })

  it('reports a store it cannot open as store_open with the URL but no credentials', async () => {
    await assert.rejects(openStore({ url: 'ws://user:pw@127.0.0.1:1', namespace: 'a', database: 'b', connectTimeoutMs: 500 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'store_open')
      assert.doesNotMatch(err.message, /pw/)
      return true
    })
  })
})
