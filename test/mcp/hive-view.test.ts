import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { hiveToolName } from '../../src/mcp/hive-view.ts'

describe('names of members\' tools in the hive view', () => {
  it('are the node id (with _ for -), two underscores and the tool\'s own name', () => {
    assert.equal(hiveToolName('swift-fox-0dd9b9', 'get_status'), 'swift_fox_0dd9b9__get_status')
  })

  it('depend on the member and the tool alone, so they are the same every time', () => {
    assert.equal(hiveToolName('calm-owl-123abc', 'read_sensor'), hiveToolName('calm-owl-123abc', 'read_sensor'))
    assert.notEqual(hiveToolName('calm-owl-123abc', 'read_sensor'), hiveToolName('calm-owl-123abd', 'read_sensor'))
  })

  it('stay within 64 characters of [A-Za-z0-9_.-]; a long one is cut and told apart by a digest of the whole', () => {
    const long1 = hiveToolName('patient-dolphin-abcdef', 'x'.repeat(60) + '_one')
    const long2 = hiveToolName('patient-dolphin-abcdef', 'x'.repeat(60) + '_two')
    for (const n of [long1, long2]) assert.match(n, /^[A-Za-z0-9_.-]{1,64}$/)
    assert.equal(long1.length, 64)
    assert.notEqual(long1, long2)
    assert.equal(long1, hiveToolName('patient-dolphin-abcdef', 'x'.repeat(60) + '_one'))
  })
})
