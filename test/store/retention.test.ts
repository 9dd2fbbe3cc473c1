import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { statSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from '../../src/store/index.ts'
import { tempDir, removeDir } from '../helpers/cli.ts'

describe('store: audit retention and private files', () => {
  const dirs: string[] = []
  const stores: Store[] = []
  after(async () => {
    for (const s of stores) await s.close()
    for (const d of dirs) removeDir(d)
  })

  it('purges audit entries older than the retention, then all but the newest N (finding 6: no one can fill the store)', async () => {
    const store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' })
    stores.push(store)
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    for (let i = 0; i < 10; i++) await store.audit.append({ at: new Date(t0 + i * 60_000), actor: `a${i}`, action: 'x', outcome: 'success' })
    await store.audit.purge({ before: new Date(t0 + 3 * 60_000), keep: 1000 })
    assert.deepEqual((await store.audit.list({ limit: 100 })).map((e) => e.actor).reverse(), ['a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'], 'older than the cut-off: gone')
    await store.audit.purge({ before: new Date(0), keep: 4 })
    assert.deepEqual((await store.audit.list({ limit: 100 })).map((e) => e.actor), ['a9', 'a8', 'a7', 'a6'], 'the newest four stay')
  })

  it('makes a file-backed store readable by its owner alone, even outside the data dir (finding 15)', async () => {
    const dir = tempDir('edge-hive-store-')
    dirs.push(dir)
    const path = join(dir, 'db')
    const old = process.umask(0o022) // as a process that did not set one would have
    try {
      const store = await openStore({ url: `surrealkv://${path}`, namespace: 'edge_hive', database: 'node' })
      stores.push(store)
      await store.audit.append({ actor: 'a', action: 'x', outcome: 'success' })
    } finally {
      process.umask(old)
    }
    const loose: string[] = []
    const walk = (p: string): void => {
      const st = statSync(p)
      if ((st.mode & 0o077) !== 0) loose.push(`${p} ${(st.mode & 0o777).toString(8)}`)
      if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n))
    }
    walk(path)
    assert.deepEqual(loose, [], 'no store file or folder is open to group or others')
  })
})
