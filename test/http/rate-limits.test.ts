import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { addressKey } from '../../src/http/rate-limits.ts'

describe('addressKey: what a per-address limit counts by', () => {
  it('counts an IPv6 address by its /64, which its holder fills as it likes', () => {
    assert.equal(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'))
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'))
  })

  it('counts an IPv4-mapped IPv6 address as the IPv4 address, and IPv4 addresses one by one', () => {
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7')
    assert.notEqual(addressKey('192.0.2.7'), addressKey('192.0.2.8'))
  })
})
