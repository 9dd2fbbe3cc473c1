// Where the time goes in a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --only mcp
// --cpu-prof <dir>`): self time summed per function and per module (npm package, node
// internals, or the project's own files), busy time only (idle left out). `--until <ms>` looks
// only at the profile's first milliseconds (a start-up: profile a node and stop it once ready);
// `--from <ms>` skips its first ones (a hive at rest: the window after formation).
// usage: node bench/profile-summary.ts <file.cpuprofile> [--top 25] [--from <ms>] [--until <ms>]
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { parseArgs } from 'node:util'

interface CallFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

// Piped into `head`: stop quietly when the reader goes.
process.stdout.on('error', () => process.exit(0))

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' }, until: { type: 'string' }, from: { type: 'string' } }, allowPositionals: true })
const file = positionals[0]
if (file === undefined) { process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [--top 25] [--from <ms>] [--until <ms>]\n'); process.exit(2) }
const top = Number(values.top)
const fromUs = values.from === undefined ? 0 : Number(values.from) * 1000
const untilUs = values.until === undefined ? Infinity : Number(values.until) * 1000
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile

// The node runs bundled files (dist/cli/*.bundle.js); their source maps (written beside them by
// the build, not linked) tell which package or project file each line and column came from.
const maps = new Map<string, SourceMap | undefined>()
function bundleSource (url: string, line: number, column: number): { source: string, line: number } | undefined {
  if (!maps.has(url)) {
    try {
      maps.set(url, new SourceMap(JSON.parse(readFileSync(fileURLToPath(url) + '.map', 'utf8')) as SourceMapPayload))
    } catch { maps.set(url, undefined) } // no map: the bundle stays one module
  }
  const entry = maps.get(url)?.findEntry(line, column)
  return entry !== undefined && 'originalSource' in entry ? { source: entry.originalSource, line: entry.originalLine } : undefined
}

/** A frame's line as a person would look it up: in its own file when it ran from the bundle. */
function lineOf (f: CallFrame): number {
  return (f.url.endsWith('.bundle.js') ? bundleSource(f.url, f.lineNumber, f.columnNumber)?.line : undefined) ?? f.lineNumber
}

/** The module a frame belongs to: an npm package, node's internals, or a project file. */
export function moduleOf (url: string, line = 0, column = 0): string {
  if (url === '') return '(native / V8)'
  if (url.endsWith('.bundle.js')) {
    const at = bundleSource(url, line, column)
    // Sources are relative to dist/cli/: `../../node_modules/<package>/...`, `../../src/node.ts`
    // (through tsc's own maps), and the build's `builtin-by-require:<module>` for Node's modules.
    if (at?.source.startsWith('builtin-by-require:') === true) return `node:${at.source.slice('builtin-by-require:'.length)}`
    if (at !== undefined) return moduleOf(new URL(at.source, url).pathname)
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] === 'internal' ? 'internal/' + (url.slice(5).split('/')[1] ?? '') : url.slice(5)}`
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const m = /\/(dist|src|bench|test)\/(.*)$/.exec(url)
  return m === null ? url : `${m[1]}/${m[2]}`
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
let elapsedUs = 0
const maxDeltaUs = 2 * ([...profile.timeDeltas].sort((a, b) => a - b)[Math.floor(profile.timeDeltas.length / 2)] ?? 1000)
for (let i = 0; i < profile.samples.length; i++) {
  elapsedUs += profile.timeDeltas[i] ?? 0
  if (elapsedUs > untilUs) break
  if (elapsedUs < fromUs) continue
  const id = profile.samples[i]!
  // timeDeltas[i] is the time before sample i; attribute the next delta to this sample, but a
  // busy one no more than two sampling intervals: on a busy machine the sampler is sometimes not
  // scheduled for tens of milliseconds, and that gap is mostly not time spent in the function it
  // sampled last (mostly: the thread may have run for part of it; the totals then agree with
  // the CPU time the system counts, where uncapped they were several times it).
  const next = Math.max(0, profile.timeDeltas[i + 1] ?? 0)
  const dt = byId.get(id)!.callFrame.functionName === '(idle)' ? next : Math.min(next, maxDeltaUs)
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt)
}

const byFunction = new Map<string, number>()
const byModule = new Map<string, number>()
let busy = 0
let idle = 0
for (const [id, us] of selfUs) {
  const f = byId.get(id)!.callFrame
  if (f.functionName === '(idle)') { idle += us; continue }
  busy += us
  const mod = moduleOf(f.url, f.lineNumber, f.columnNumber)
  const name = `${f.functionName === '' ? '(anonymous)' : f.functionName}  ${mod}${f.url === '' ? '' : `:${lineOf(f) + 1}`}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + us)
  byModule.set(mod, (byModule.get(mod) ?? 0) + us)
}

// Inclusive: each sample counts once for every module on its stack.
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const inclusive = new Map<string, number>()
const inclusiveOwn = new Map<string, number>()
for (const [id, us] of selfUs) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue
  const mods = new Set<string>()
  const own = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const f = byId.get(at)!.callFrame
    if (f.functionName === '(root)') continue
    const mod = moduleOf(f.url, f.lineNumber, f.columnNumber)
    mods.add(mod)
    if (mod.startsWith('dist/') || mod.startsWith('src/')) own.add(`${f.functionName === '' ? '(anonymous)' : f.functionName}  ${mod}`)
  }
  for (const m of mods) inclusive.set(m, (inclusive.get(m) ?? 0) + us)
  for (const f of own) inclusiveOwn.set(f, (inclusiveOwn.get(f) ?? 0) + us)
}

const pct = (us: number): string => `${(100 * us / busy).toFixed(1).padStart(5)}%`
const show = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`)
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`)
}
process.stdout.write(`${file}\nbusy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (self time; % of busy)\n`)
show('self time by module', byModule)
show('inclusive time by module (time with the module anywhere on the stack)', inclusive)
show('self time by function', byFunction)
show('inclusive time of the project\'s own functions', inclusiveOwn)
