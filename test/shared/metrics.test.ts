import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { NodeMetrics } from '../../src/shared/metrics.ts'

const SOURCES = { mcpSessions: () => 0, peersByStatus: () => ({}) }

describe('node metrics', () => {
  it('serves no process or runtime metrics when nothing can scrape them (--no-metrics)', async () => {
    const metrics = new NodeMetrics(SOURCES, { runtime: false })
    const { body } = await metrics.render()
    assert.match(body, /edge_hive_peers/)
    assert.doesNotMatch(body, /^# HELP (process|nodejs)_/m)
  })
})
