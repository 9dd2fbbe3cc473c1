// The load generator: autocannon, in this process, HTTP/1.1 keep-alive connections (one per
// simulated client, no pipelining), a warm-up run and then the measured run with the same
// settings. The server's CPU time over the measured run is read from /proc.
import autocannon from 'autocannon'
import { cpuMs } from './node.ts'

export interface LoadSpec {
  url: string
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body?: string
  connections: number
  warmupS: number
  durationS: number
  /** Per-connection headers (e.g. each client its own MCP session); called with the connection's index. */
  headersFor?: (i: number) => Record<string, string>
  /** A body that does not pass is counted as an error (autocannon's mismatches). */
  verify?: (body: string) => boolean
  /** The server process, to read its CPU time. */
  serverPid?: number
  /** Replace `[<id>]` in the body with a fresh id per request (unique JSON-RPC ids). */
  uniqueIds?: boolean
  /** More processes whose CPU time over the measured run is read, by name (e.g. the member behind a forwarding node). */
  alsoCpuOf?: Record<string, number>
  /**
   * Keeps the latency of every 2xx answer of the measured run, for percentiles finer than
   * autocannon's, which counts whole milliseconds (a sub-millisecond difference reads as 0).
   */
  fineLatency?: boolean
}

/** Latency percentiles of the 2xx answers of a measured run, in ms, from every answer's own time. */
export interface FineLatency {
  p50: number
  p90: number
  p99: number
  mean: number
  samples: number
}

export interface LoadResult {
  connections: number
  requests: number
  durationS: number
  /** Completed requests per second, all of them (errors included: see `errors`). */
  rps: number
  /** Latency percentiles of 2xx answers, ms. */
  p50: number
  p99: number
  /** Connection errors, timeouts, non-2xx answers and bodies that failed the check. */
  errors: number
  /** Server CPU use over the measured run, in % of one core (100 = one core busy). */
  serverCpuPct: number | null
  /** Server CPU time per completed request, µs. */
  serverCpuUsPerReq: number | null
  /** CPU time per completed request of the `alsoCpuOf` processes, µs, by name. */
  alsoCpuUsPerReq?: Record<string, number | null>
  /** With `fineLatency`. */
  fineLatencyMs?: FineLatency | null
}

/** The value below which `q` of the sorted values lie (nearest rank). */
function percentile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function fine (latencies: number[]): FineLatency | null {
  if (latencies.length === 0) return null
  const sorted = latencies.sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, samples: sorted.length }
}

async function once (spec: LoadSpec, durationS: number, latencies?: number[]): Promise<autocannon.Result> {
  let index = 0
  const opts: autocannon.Options = {
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    connections: spec.connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
    ...(spec.body === undefined ? {} : { body: spec.body }),
    ...(spec.uniqueIds === true ? { idReplacement: true } : {}),
    ...(spec.verify === undefined ? {} : { verifyBody: (b: unknown) => spec.verify!(String(b)) }),
    ...(spec.headersFor === undefined ? {} : { setupClient: (client: autocannon.Client) => { client.setHeaders({ ...spec.headers, ...spec.headersFor!(index++) }) } })
  }
  return await new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => { if (err !== null && err !== undefined) reject(err); else resolve(result) })
    instance.on('error', reject)
    // autocannon's own measure of each answer (process.hrtime, ms with fractions).
    if (latencies !== undefined) instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => { if (status >= 200 && status < 300) latencies.push(ms) })
  })
}

export async function load (spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupS > 0) await once(spec, spec.warmupS)
  const also = Object.entries(spec.alsoCpuOf ?? {})
  const also0 = also.map(([, pid]) => cpuMs(pid))
  const cpu0 = spec.serverPid === undefined ? 0 : cpuMs(spec.serverPid)
  const latencies = spec.fineLatency === true ? [] as number[] : undefined
  const t0 = performance.now()
  const r = await once(spec, spec.durationS, latencies)
  const wallMs = performance.now() - t0
  const cpu = spec.serverPid === undefined ? null : cpuMs(spec.serverPid) - cpu0
  const alsoMs = also.map(([, pid], i) => cpuMs(pid) - also0[i]!)
  const requests = r.requests.total
  const durationS = r.duration
  const perReq = (ms: number): number | null => requests === 0 ? null : 1000 * ms / requests
  return {
    connections: spec.connections,
    requests,
    durationS,
    rps: requests / durationS,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx + r.mismatches,
    serverCpuPct: cpu === null ? null : 100 * cpu / wallMs,
    serverCpuUsPerReq: cpu === null ? null : perReq(cpu),
    ...(also.length === 0 ? {} : { alsoCpuUsPerReq: Object.fromEntries(also.map(([name], i) => [name, perReq(alsoMs[i]!)])) }),
    ...(latencies === undefined ? {} : { fineLatencyMs: fine(latencies) })
  }
}
