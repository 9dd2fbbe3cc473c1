import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client'
import { eventLoopDelayGauges, PARKED_SAMPLE_MS } from './event-loop-delay.ts'
import { MinuteTally } from './minute-tally.ts'

/** What the node exposes to Prometheus. Parts report through the methods; gauges are read at scrape time. */
export interface MetricsSources {
  /** MCP sessions (2025-11-25 era) open now. */
  mcpSessions (): number
  /** Peers in the peer table by status. */
  peersByStatus (): Record<string, number>
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * The node's metrics, on a registry of its own (not prom-client's global one, so two nodes in
 * one process, as in tests, do not mix). Names follow Prometheus conventions: `_total` counters,
 * `_seconds` histograms, base units.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  /** Tool calls and refused requests (401, 403, 429) per minute, for the operator's console. */
  readonly perMinute = new MinuteTally()
  readonly #httpRequests: Histogram<'route' | 'method' | 'status'>
  readonly #tokensIssued: Counter<'grant_type'>
  readonly #tokensRefused: Counter<'reason'>
  readonly #toolCalls: Counter<'tool' | 'outcome'>
  readonly #storeOps: Histogram<'operation' | 'outcome'>
  readonly #eventLoop?: { stop: () => void }

  /**
   * `runtime`: also prom-client's process and runtime metrics (`process_*`, `nodejs_*`), with
   * the event loop delay sampled once a second (event-loop-delay.ts). Only when something can
   * scrape them.
   */
  constructor (sources: MetricsSources, options: { runtime: boolean }) {
    const registers = [this.registry]
    if (options.runtime) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: PARKED_SAMPLE_MS })
      this.#eventLoop = eventLoopDelayGauges(this.registry)
    }
    this.#httpRequests = new Histogram({
      name: 'edge_hive_http_request_duration_seconds',
      help: 'HTTP requests by route (the route pattern, not the path), method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
      registers
    })
    this.#tokensIssued = new Counter({ name: 'edge_hive_tokens_issued_total', help: 'Access tokens issued, by grant type.', labelNames: ['grant_type'], registers })
    this.#tokensRefused = new Counter({ name: 'edge_hive_tokens_refused_total', help: 'Token requests refused, by OAuth error code.', labelNames: ['reason'], registers })
    this.#toolCalls = new Counter({ name: 'edge_hive_tool_calls_total', help: 'MCP tool calls (MCP and REST), by tool and outcome (ok, error).', labelNames: ['tool', 'outcome'], registers })
    this.#storeOps = new Histogram({
      name: 'edge_hive_store_operation_duration_seconds',
      help: 'Store operations by repository method and outcome.',
      labelNames: ['operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers
    })
    new Gauge({ // eslint-disable-line no-new
      name: 'edge_hive_mcp_sessions_open',
      help: 'MCP sessions (2025-11-25 era) open now.',
      registers,
      collect () { this.set(sources.mcpSessions()) }
    })
    new Gauge({ // eslint-disable-line no-new
      name: 'edge_hive_peers',
      help: 'Peers in the peer table, by status.',
      labelNames: ['status'],
      registers,
      collect () {
        this.reset()
        const counts = sources.peersByStatus()
        for (const status of ['online', 'offline', 'untrusted']) this.set({ status }, counts[status] ?? 0)
      }
    })
  }

  httpRequest (r: { route: string, method: string, status: number, seconds: number }): void {
    this.#httpRequests.observe({ route: r.route, method: r.method, status: String(r.status) }, r.seconds)
    if (r.status === 401 || r.status === 403 || r.status === 429) this.perMinute.count('refused')
  }

  tokenIssued (grantType: string): void {
    this.#tokensIssued.inc({ grant_type: grantType })
  }

  tokenRefused (reason: string, count = 1): void {
    this.#tokensRefused.inc({ reason }, count)
  }

  toolCall (tool: string, outcome: 'ok' | 'error'): void {
    this.#toolCalls.inc({ tool, outcome })
    this.perMinute.count('toolCalls')
  }

  storeOperation (operation: string, ok: boolean, seconds: number): void {
    this.#storeOps.observe({ operation, outcome: ok ? 'ok' : 'error' }, seconds)
  }

  /** Ends the event loop sampling (the rest needs no stopping). Idempotent. */
  stop (): void {
    this.#eventLoop?.stop()
  }

  /** The exposition text and its content type. */
  async render (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}

/**
 * Wraps every async method of each repository so its duration is observed, named
 * `<repository>.<method>`: the store stays unaware of metrics.
 */
export function instrumentRepositories<T extends object> (store: T, names: Array<keyof T & string>, metrics: NodeMetrics): T {
  const wrapped: Record<string, unknown> = {}
  for (const name of names) {
    const repo = store[name] as Record<string, unknown>
    wrapped[name] = new Proxy(repo, {
      get (target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function' || typeof prop !== 'string') return value
        return (...args: unknown[]) => {
          const started = process.hrtime.bigint()
          const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9
          const out = (value as (...a: unknown[]) => unknown).apply(target, args)
          if (out instanceof Promise) {
            return out.then((v: unknown) => { metrics.storeOperation(`${name}.${prop}`, true, seconds()); return v },
              (err: unknown) => { metrics.storeOperation(`${name}.${prop}`, false, seconds()); throw err })
          }
          return out
        }
      }
    })
  }
  return new Proxy(store, {
    get (target, prop) {
      if (typeof prop === 'string' && prop in wrapped) return wrapped[prop]
      const value = Reflect.get(target, prop, target) as unknown
      // Bound to the store itself: its methods use private fields, which a proxy does not have.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    }
  })
}
