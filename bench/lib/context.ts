// What every benchmark gets from bench/run.ts, and the rows of the one table it prints.
import type { Timing } from './mcp-calls.ts'

export interface BenchOptions {
  quick: boolean
  /** Warm-up and measured seconds of each load run. */
  timing: Timing
  /** Concurrent clients for the tool-call runs. */
  concurrency: number[]
  /** Hive sizes. */
  hiveSizes: number[]
  /** Start-up measurements (each a first start and a restart). */
  startups: number
  /** Where to write V8 CPU profiles of the node under tool-call or token load, and of node A under forwarded calls (`--cpu-prof <dir>`). */
  cpuProfDir: string | undefined
}

/** One line of the printed table. */
export interface Row {
  section: number
  benchmark: string
  clients?: number | string
  result: string
  p50?: number
  p99?: number
  errors?: number
  /** Server CPU time per request, µs (load runs only). */
  cpuUs?: number | null
  ratio?: string
}

export interface BenchContext extends BenchOptions {
  log (line: string): void
  /** Results of benchmarks already run in this run, by name (reference and raw need mcp's). */
  results: Map<string, unknown>
  /** The names of the benchmarks this run runs. */
  selected: Set<string>
  /** performance.now() by which the run should be over; the hive benchmark fits its waits to it. */
  deadline: number
}

export interface BenchmarkOutcome {
  rows: Row[]
  /** Everything measured, for the JSON file. */
  data: unknown
}

export interface Benchmark {
  name: string
  section: number
  title: string
  /** Benchmarks whose results this one needs; run first when not run already. */
  needs?: string[]
  /** Seconds this benchmark adds to the run's time budget (bench/run.ts BUDGET_S covers the rest). */
  budgetS?: (o: BenchOptions) => number
  run (ctx: BenchContext): Promise<BenchmarkOutcome>
}

export const fmt = {
  rate: (n: number): string => n >= 100 ? n.toFixed(0) : n.toFixed(1),
  ms: (n: number): string => n >= 100 ? n.toFixed(0) : n.toFixed(1),
  s: (ms: number): string => `${(ms / 1000).toFixed(2)} s`,
  ratio: (a: number, b: number): string => b === 0 ? 'n/a' : (a / b).toFixed(2),
  mib: (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`,
  bytes: (n: number): string => n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n.toFixed(0)} B`
}
