import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type Store } from '../../src/store/index.ts'
import { PeerDirectory } from '../../src/hive/peer-directory.ts'
import { createLogger } from '../../src/shared/logger.ts'

describe('the peer table and the store', () => {
  let store: Store
  before(async () => { store = await openStore({ url: 'mem://', namespace: 'edge_hive', database: 'node' }) })
  after(async () => { await store.close() })

  it('keeps peers that never proved membership in memory only: fresh keys add no rows to the store', async () => {
    const dir = new PeerDirectory({ repo: store.peers, logger: createLogger('off') }, { offlineAfterMs: 15_000 })
    await dir.load()
    try {
      for (let i = 0; i < 50; i++) {
        dir.connected(`stranger-${i}`, ['/ip4/10.0.0.9/tcp/4001'])
        dir.authenticated(`stranger-${i}`, { proof: false, member: false })
      }
      dir.connected('member-1', ['/ip4/10.0.0.2/tcp/4001'])
      dir.authenticated('member-1', { proof: true, member: true })
      await dir.flush()
      assert.equal(dir.list().length, 51, 'the table still shows them all')
      assert.deepEqual((await store.peers.list(1000)).map((p) => p.peerId), ['member-1'])
      // A member that is removed later keeps its row, now saying it is no member.
      dir.removed('member-1')
      await dir.flush()
      assert.equal((await store.peers.list(1000))[0]?.member, false)
    } finally {
      await dir.stop()
    }
  })

  it('forgets every member\'s proof when this node leaves its hive', async () => {
    const dir = new PeerDirectory({ repo: store.peers, logger: createLogger('off') }, { offlineAfterMs: 15_000 })
    await dir.load()
    try {
      dir.connected('member-2', [])
      dir.authenticated('member-2', { proof: true, member: true })
      assert.equal(dir.isTrusted('member-2'), true)
      dir.leftHive()
      assert.equal(dir.isTrusted('member-2'), false)
      assert.equal(dir.isMember('member-2'), false)
    } finally {
      await dir.stop()
    }
  })
})
