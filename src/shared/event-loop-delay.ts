import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'
import { Gauge, type Registry } from 'prom-client'

/**
 * How often the event loop is sampled. prom-client samples every 10 ms: a hundred wake-ups a
 * second that cost an idle node about 0.9% of a core on a two-core machine, more than all its
 * other work at rest (issue #13). Once a second costs about 0.05% there (a wake-up from idle,
 * not the sample, is what costs). Any block of a second or more is still seen in full (less at
 * most this period); a shorter one is seen when a sample falls due during it, with the part of
 * it after that point.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000

/**
 * The sampling period prom-client's own sampler is given so that it never falls due (about 24.8
 * days, the largest a timer takes). prom-client has no switch to leave its event loop collector
 * out; its gauges are replaced by ours in `eventLoopDelayGauges`.
 */
export const PARKED_SAMPLE_MS = 2 ** 31 - 1

/** prom-client's gauges computed from its sampler, by statistic; the same names are served from ours. */
const GAUGES = {
  min: ['nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.'],
  max: ['nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.'],
  mean: ['nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.'],
  stddev: ['nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.'],
  p50: ['nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.'],
  p90: ['nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.'],
  p99: ['nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.']
} as const

type Statistic = keyof typeof GAUGES

function statistics (h: RecordableHistogram): Record<Statistic, number> {
  const s = (ns: number): number => ns / 1e9
  return { min: s(h.min), max: s(h.max), mean: s(h.mean), stddev: s(h.stddev), p50: s(h.percentile(50)), p90: s(h.percentile(90)), p99: s(h.percentile(99)) }
}

/**
 * Serves the event loop delay statistics under prom-client's names, from a sampler of our own
 * that runs every `periodMs`, and removes prom-client's (whose sampler must be parked with
 * `PARKED_SAMPLE_MS`). Each scrape reads the samples since the previous one, as prom-client's
 * do; a scrape that finds none keeps the last figures. `stop` ends the sampling.
 *
 * A sample is how late the sampling timer runs, not the time between two runs, which is what
 * Node's monitorEventLoopDelay records (so prom-client's figures never go below its 10 ms; see
 * prometheus/client_js#370); and, unlike that monitor, a reset loses no sample.
 */
export function eventLoopDelayGauges (registry: Registry, periodMs = EVENT_LOOP_SAMPLE_MS): { stop: () => void } {
  const histogram = createHistogram()
  let due = performance.now() + periodMs
  const timer = setInterval(() => {
    const now = performance.now()
    // In nanoseconds, as Node's own histograms; it records nothing below 1.
    histogram.record(Math.max(1, Math.round((now - due) * 1e6)))
    due = now + periodMs
  }, periodMs).unref()

  let last: Record<Statistic, number> = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 }
  let scrape: Record<Statistic, number> | undefined
  // All seven gauges of one scrape show the same samples: the first to be read takes them (and
  // starts the next period), the others reuse them until the scrape is over.
  const read = (): Record<Statistic, number> => {
    if (scrape === undefined) {
      if (histogram.count > 0) last = statistics(histogram)
      histogram.reset()
      scrape = last
      setImmediate(() => { scrape = undefined })
    }
    return scrape
  }
  for (const [stat, [name, help]] of Object.entries(GAUGES) as Array<[Statistic, readonly [string, string]]>) {
    registry.removeSingleMetric(name)
    new Gauge({ name, help, registers: [registry], collect () { this.set(read()[stat]) } }) // eslint-disable-line no-new
  }
  return { stop: () => { clearInterval(timer) } }
}
