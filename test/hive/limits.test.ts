import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { AttemptLimiter, addressKey, ipKey } from '../../src/hive/limits.ts'
import { RefusalLog } from '../../src/hive/refusal-log.ts'
import { createLogger } from '../../src/shared/logger.ts'

describe('limits on unproven peers', () => {
  it('keys an address by its IP, never its port; IPv6 by its /64; IPv4-mapped IPv6 as IPv4', () => {
    assert.equal(addressKey(multiaddr('/ip4/10.0.0.5/tcp/4001')), '10.0.0.5')
    assert.equal(addressKey(multiaddr('/ip4/10.0.0.5/tcp/51234')), '10.0.0.5')
    assert.equal(addressKey(multiaddr('/ip6/2001:db8:1:2:a:b:c:d/udp/4001/quic-v1')), '2001:db8:1:2::/64')
    assert.equal(ipKey('2001:db8:1:2::99'), '2001:db8:1:2::/64')
    assert.equal(ipKey('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(ipKey('::1'), '0:0:0:0::/64')
    assert.equal(ipKey('::ffff:192.0.2.7'), '192.0.2.7')
    assert.equal(addressKey(undefined), 'unknown')
  })

  it('limits per peer id below the per-address limit, and per address whatever the peer ids', () => {
    const l = new AttemptLimiter({ perAddress: 8, perPeer: 2, windowMs: 60_000 })
    assert.deepEqual([1, 2, 3].map(() => l.take('p1', 'a', 0)), ['ok', 'ok', 'peer'])
    // New peer ids from the same address go on until the address is spent (3 taken by p1 already).
    const fresh = [2, 3, 4, 5, 6, 7].map((i) => l.take(`p${i}`, 'a', 0))
    assert.deepEqual(fresh, ['ok', 'ok', 'ok', 'ok', 'ok', 'address'])
    assert.equal(l.take('p99', 'b', 0), 'ok', 'another address is not affected')
    assert.equal(l.take('p1', 'a', 60_000), 'ok', 'a new window starts afresh')
  })

  it('forgets the oldest keys beyond its size, so a stream of fresh peer ids cannot grow it without bound', () => {
    const l = new AttemptLimiter({ perAddress: 1000, perPeer: 1, windowMs: 60_000, maxKeys: 10 })
    for (let i = 0; i < 100; i++) l.take(`p${i}`, 'a', 0)
    assert.equal(l.take('p0', 'a', 0), 'ok', 'p0 was forgotten')
    assert.equal(l.take('p99', 'a', 0), 'peer', 'p99 was not')
  })
})

describe('aggregated refusals in the audit log', () => {
  const silent = createLogger('off')

  it('writes the first refusal per address at once and one summary with the count for the rest', () => {
    const rows: Array<{ action: string, target: string, detail?: Record<string, unknown> }> = []
    const log = new RefusalLog({ audit: (action, target, detail) => rows.push({ action, target, detail }), logger: silent }, { windowMs: 60_000, maxEntriesPerWindow: 20 })
    try {
      for (let i = 0; i < 150; i++) log.refused('hive.join_refused', `peer-${i % 7}`, '10.0.0.9', 'unknown')
      log.refused('hive.join_refused', 'peer-x', '10.0.0.10', 'expired')
      assert.equal(rows.length, 2, 'one entry per address so far')
      log.flush()
      assert.equal(rows.length, 3)
      assert.deepEqual(rows[2], {
        action: 'hive.join_refused',
        target: '10.0.0.9',
        detail: { reason: 'repeated', refused: 149, window_s: 60, reasons: { unknown: 149 }, peers: ['peer-1', 'peer-2', 'peer-3', 'peer-4', 'peer-5', 'peer-6', 'peer-0'] }
      })
    } finally {
      log.stop()
    }
  })

  it('caps the entries per window across addresses; the rest become one hive.refusals_suppressed entry', () => {
    const rows: string[] = []
    const log = new RefusalLog({ audit: (action) => rows.push(action), logger: silent }, { windowMs: 60_000, maxEntriesPerWindow: 5 })
    try {
      for (let i = 0; i < 500; i++) log.refused('hive.auth_failed', `p${i}`, `10.1.${i >> 8}.${i & 255}`, 'bad')
      assert.equal(rows.length, 5)
      log.flush()
      assert.deepEqual(rows.slice(5), ['hive.refusals_suppressed'])
    } finally {
      log.stop()
    }
  })
})
