// `npm run bench [-- --quick] [-- --only <name>[,<name>]] [-- --cpu-prof <dir>] [-- --hive-sizes 3,10,30]`
// Runs the benchmarks side by side on this machine, prints one table with the ratios, and
// writes bench/results/<ISO date>.json with the machine description. Not part of `npm test`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CLI, Cleanup, ROOT } from './lib/node.ts'
import { cpuBusyPct, cpuTicks, describeMachine, machineLine, othersPct } from './lib/machine.ts'
import type { Benchmark, BenchContext, BenchOptions, Row } from './lib/context.ts'
import { mcp } from './mcp.ts'
import { reference } from './reference.ts'
import { raw } from './raw.ts'
import { forward } from './forward.ts'
import { auth } from './auth.ts'
import { hive } from './hive.ts'
import { startup } from './startup.ts'

// Run in this order (the table is in section order): the hive last, since it alone can wait
// long (a hive that does not form), and it gets what is left of the run's time budget.
const BENCHMARKS: Benchmark[] = [mcp, reference, raw, forward, auth, startup, hive]
/**
 * A full run stays under 5 minutes, a quick one under 1 (the bounds), with a margin,
 * plus what a benchmark adds for itself (`budgetS`): the hive its minute at rest for each size
 * and its restart and removal (issue #13), about 5 minutes more for 3, 10 and 30 nodes; the
 * forwarded calls a hive of two and their rows, about a minute (half a minute with --quick).
 */
const BUDGET_S = { full: 285, quick: 55 }

function usage (): string {
  return `usage: npm run bench -- [--quick] [--only <${BENCHMARKS.map((b) => b.name).join('|')}>[,...]] [--cpu-prof <dir>] [--hive-sizes 3,10,30]\n` +
    'A full run takes about 9 minutes on 2 cores, of which the hive about 6 (a minute at rest for each size); --quick about 1.\n'
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'hive-sizes': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false }
  },
  allowPositionals: false
})
if (values.help === true) { process.stdout.write(usage()); process.exit(0) }

const only = values.only === undefined ? undefined : values.only.split(',').map((s) => s.trim()).filter((s) => s !== '')
for (const name of only ?? []) {
  if (!BENCHMARKS.some((b) => b.name === name)) { process.stderr.write(`unknown benchmark ${name}\n${usage()}`); process.exit(2) }
}
if (!existsSync(CLI)) { process.stderr.write(`${CLI} is missing: run \`npm run build\` first\n`); process.exit(2) }

const quick = values.quick === true
const options: BenchOptions = {
  quick,
  timing: quick ? { warmupS: 1, durationS: 2 } : { warmupS: 1, durationS: 4 },
  concurrency: quick ? [10] : [1, 10, 50],
  hiveSizes: values['hive-sizes'] !== undefined ? values['hive-sizes'].split(',').map(Number) : quick ? [3] : [3, 10, 30],
  startups: quick ? 1 : 3,
  cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof'])
}
if (options.cpuProfDir !== undefined) mkdirSync(options.cpuProfDir, { recursive: true })

const log = (line: string): void => { process.stderr.write(line + '\n') }
const selected = new Set<string>()

// The selected benchmarks, with what they need.
const want = (name: string): void => {
  const b = BENCHMARKS.find((x) => x.name === name)!
  for (const n of b.needs ?? []) want(n)
  selected.add(name)
}
for (const b of BENCHMARKS) if (only === undefined || only.includes(b.name)) want(b.name)
const budgetS = (quick ? BUDGET_S.quick : BUDGET_S.full) + BENCHMARKS.reduce((sum, b) => sum + (selected.has(b.name) ? b.budgetS?.(options) ?? 0 : 0), 0)
const ctx: BenchContext = { ...options, log, results: new Map(), selected, deadline: performance.now() + 1000 * budgetS }

// Ctrl-C or a kill: stop what the running benchmark started (nodes, servers, namespaces), then
// exit. The benchmark itself then fails (its processes are gone); the main flow waits here
// rather than print and exit before the clean-up is done.
let stopping: Promise<never> | undefined
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: cleaning up`)
    stopping ??= Promise.all([...Cleanup.active].map(async (c) => await c.run())).then(() => process.exit(130))
  })
}

const machine = describeMachine()
const started = new Date()
log(`edge-hive bench${quick ? ' --quick' : ''}: ${[...selected].join(', ')} (time budget ${budgetS.toFixed(0)} s)`)
log(`machine: ${machineLine(machine)}`)
// Other work on the machine takes CPU from what is measured: say so rather than hide it.
const busyBefore = await cpuBusyPct(1000)
const loadBefore = loadavg()[0]!
if (busyBefore > 15) log(`WARNING: the machine is busy before the run (${busyBefore.toFixed(0)}% CPU in use by other processes): figures will be noisy`)

const ticks0 = cpuTicks()
const rows: Row[] = []
const byTableOrder = (a: Row, b: Row): number => a.section - b.section
const data: Record<string, unknown> = {}
const seconds: Record<string, number> = {}
let failed = false
for (const b of BENCHMARKS) {
  if (!selected.has(b.name)) continue
  log(`\n[${b.section}] ${b.name}: ${b.title}`)
  const t0 = performance.now()
  try {
    const out = await b.run(ctx)
    rows.push(...out.rows)
    data[b.name] = out.data
  } catch (err) {
    failed = true
    const message = (err as Error).stack ?? String(err)
    log(`  FAILED: ${message}`)
    rows.push({ section: b.section, benchmark: `${b.name}: FAILED`, result: (err as Error).message.split('\n')[0]!.slice(0, 80) })
    data[b.name] = { error: message }
  }
  if (stopping !== undefined) await stopping
  seconds[b.name] = (performance.now() - t0) / 1000
  log(`  (${seconds[b.name]!.toFixed(1)} s)`)
}
const totalS = (Date.now() - started.getTime()) / 1000
// Children still running are not counted as ours: every benchmark has stopped its own by now.
const othersDuring = othersPct(ticks0, cpuTicks(), totalS, machine.cores)

function table (all: Row[]): string {
  const head = ['#', 'benchmark', 'clients', 'result', 'p50 ms', 'p99 ms', 'errors', 'server CPU µs/req', 'ratio, notes']
  const cells = all.map((r) => [String(r.section), r.benchmark, r.clients === undefined ? '' : String(r.clients), r.result,
    r.p50 === undefined ? '' : String(r.p50), r.p99 === undefined ? '' : String(r.p99), r.errors === undefined ? '' : String(r.errors),
    r.cpuUs === undefined || r.cpuUs === null ? '' : r.cpuUs.toFixed(0), r.ratio ?? ''])
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const right = new Set([2, 3, 4, 5, 6, 7])
  const line = (c: string[]): string => '| ' + c.map((x, i) => right.has(i) ? x.padStart(width[i]!) : x.padEnd(width[i]!)).join(' | ') + ' |'
  const sep = '|' + width.map((w, i) => right.has(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2)).join('|') + '|'
  return [line(head), sep, ...cells.map(line)].join('\n')
}

const out = [
  '',
  `Edge Hive benchmark, ${started.toISOString()}${quick ? ' (--quick)' : ''}`,
  `machine: ${machineLine(machine)}`,
  `load: autocannon ${options.concurrency.join('/')} keep-alive HTTP/1.1 connections, ${options.timing.warmupS} s warm-up + ${options.timing.durationS} s measured per row`,
  `other processes: ${busyBefore.toFixed(0)}% of the CPUs just before the run, ${othersDuring.toFixed(0)}% during it${busyBefore > 15 || othersDuring > 15 ? ' (BUSY MACHINE: they competed for the CPU; figures are noisy)' : ''}`,
  '',
  table(rows.sort(byTableOrder)),
  '',
  `total ${totalS.toFixed(0)} s`
].join('\n')
process.stdout.write(out + '\n')

const dir = join(ROOT, 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `${started.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`)
writeFileSync(file, JSON.stringify({
  date: started.toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  machine,
  options: { ...options, cpuProfDir: options.cpuProfDir ?? null },
  total_seconds: totalS,
  other_processes_cpu_pct: { before_run: busyBefore, during_run: othersDuring, load_average_1min_before: loadBefore },
  seconds_per_benchmark: seconds,
  table: rows,
  results: data
}, null, 2) + '\n')
log(`results: ${file}`)
process.exit(failed ? 1 : 0)
