import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { NodeMetrics } from '../../src/shared/metrics.ts'
import { eventLoopDelayGauges } from '../../src/shared/event-loop-delay.ts'

const SOURCES = { mcpSessions: () => 0, peersByStatus: () => ({}) }
const LAG_NAMES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** The value of each unlabelled sample in the exposition text, by name. */
function values (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9_]+) (\S+)$/.exec(line)
    if (m !== null) out.set(m[1]!, Number(m[2]))
  }
  return out
}

describe('node metrics', () => {
  it('serves no process or runtime metrics when nothing can scrape them (--no-metrics)', async () => {
    const metrics = new NodeMetrics(SOURCES, { runtime: false })
    const { body } = await metrics.render()
    assert.match(body, /edge_hive_peers/)
    assert.doesNotMatch(body, /^# HELP (process|nodejs)_/m)
    metrics.stop()
  })

  it('serves each event loop delay statistic once, as seconds late, beside prom-client\'s runtime metrics', async () => {
    const metrics = new NodeMetrics(SOURCES, { runtime: true })
    try {
      const { body } = await metrics.render()
      assert.match(body, /^# HELP nodejs_heap_size_used_bytes /m)
      assert.match(body, /^# HELP nodejs_eventloop_lag_seconds /m)
      const v = values(body)
      for (const name of LAG_NAMES) {
        assert.equal(body.match(new RegExp(`^# HELP ${name} `, 'gm'))?.length, 1, name)
        // prom-client's own gauges, with its sampler parked, would read 9.2e9 s or NaN here.
        assert.ok(Number.isFinite(v.get(name)) && v.get(name)! >= 0 && v.get(name)! < 1, `${name} = ${v.get(name)}`)
      }
    } finally {
      metrics.stop()
    }
  })

  it('sees a block of the event loop as delay beyond the sampling period, and an idle loop as none', async () => {
    const registry = new Registry()
    const delay = eventLoopDelayGauges(registry, 50)
    try {
      await sleep(400)
      const idle = values(await registry.metrics())
      assert.ok(idle.get('nodejs_eventloop_lag_p50_seconds')! < 0.02, `idle p50 ${idle.get('nodejs_eventloop_lag_p50_seconds')}`)
      const until = Date.now() + 300
      while (Date.now() < until) { /* block the loop */ }
      await sleep(150)
      const after = values(await registry.metrics())
      assert.ok(after.get('nodejs_eventloop_lag_max_seconds')! >= 0.2, `max ${after.get('nodejs_eventloop_lag_max_seconds')}`)
      assert.ok(after.get('nodejs_eventloop_lag_min_seconds')! < 0.02, `min ${after.get('nodejs_eventloop_lag_min_seconds')}`)
      // A scrape with no new sample keeps the figures of the last one.
      assert.equal(values(await registry.metrics()).get('nodejs_eventloop_lag_max_seconds'), after.get('nodejs_eventloop_lag_max_seconds'))
    } finally {
      delay.stop()
    }
  })

  it('leaves an idle process asleep: no 10 ms event loop sampler (prom-client\'s default)', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
    // Voluntary context switches of the main thread over one idle second: each wake-up is one.
    const script = `
      import { readFileSync } from 'node:fs'
      import { NodeMetrics } from ${JSON.stringify(fileURLToPath(new URL('../../src/shared/metrics.ts', import.meta.url)))}
      const switches = () => Number(/voluntary_ctxt_switches:\\s+(\\d+)/.exec(readFileSync('/proc/self/task/' + process.pid + '/status', 'utf8'))[1])
      const metrics = new NodeMetrics({ mcpSessions: () => 0, peersByStatus: () => ({}) }, { runtime: true })
      setTimeout(() => {
        const before = switches()
        setTimeout(() => { process.stdout.write(String(switches() - before)); metrics.stop() }, 1000)
      }, 300)
    `
    const woken = Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }))
    assert.ok(woken < 20, `${woken} wake-ups in an idle second`)
  })
})
