// The local hive's state file and its processes: what `up` records and `down` (or a failed `up`)
// undoes. Kept apart from scripts/local-hive.ts, which builds the hive.

import { execFileSync } from 'node:child_process'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HIVE_PREFIX, deleteNamespace, namespaceExists } from './netns.ts'

/** How long the hive's processes get between SIGTERM and SIGKILL. */
const STOP_TIMEOUT_MS = 15_000

export const log = (text: string): void => { process.stderr.write(`${text}\n`) }
export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export interface NodeState {
  index: number
  name: string
  ns: string
  ip: string
  /** Port on 127.0.0.1 in the machine's own namespace. */
  port: number
  dir: string
  dataDir: string
  socket: string
  url: string
  pids: { node?: number, inner?: number, outer?: number }
  nodeId?: string
  peerId?: string
}

export interface HiveState {
  version: 1
  createdAt: string
  complete: boolean
  hiveId?: string
  namespaces: string[]
  nodes: NodeState[]
}

// ---------------------------------------------------------------------------------------------
// State file

export function stateFile (stateDir: string): string { return join(stateDir, 'state.json') }

export function writeState (stateDir: string, state: HiveState): void {
  const file = stateFile(stateDir)
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, file)
}

export function readState (stateDir: string): HiveState | undefined {
  try { return JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as HiveState } catch { return undefined }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Whether the process runs (a zombie does not count). */
export function running (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch { return false }
}

/** Whether the process is one this hive started (its command line names the state dir), so a reused pid is left alone. */
function ours (pid: number, stateDir: string): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a === stateDir || a.startsWith(`${stateDir}/`)) } catch { return false }
}

function pidsInNamespace (ns: string): number[] {
  if (!namespaceExists(ns)) return []
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l)).map(Number)
  } catch { return [] }
}

/** SIGTERM, then SIGKILL for what still runs after the timeout. Returns how many processes were signalled. */
async function stopAll (pids: number[], timeoutMs: number): Promise<number> {
  const alive = pids.filter(running)
  for (const pid of alive) { try { process.kill(pid, 'SIGTERM') } catch { /* gone */ } }
  const deadline = Date.now() + timeoutMs
  while (alive.some(running) && Date.now() < deadline) await sleep(100)
  const stubborn = alive.filter(running)
  for (const pid of stubborn) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  if (stubborn.length > 0) {
    log(`  ${stubborn.length} process(es) did not stop within ${timeoutMs / 1000} s of SIGTERM: sent SIGKILL (${stubborn.join(', ')})`)
    const killDeadline = Date.now() + 5_000
    while (stubborn.some(running) && Date.now() < killDeadline) await sleep(100)
  }
  return alive.length
}

/** Stops every process of the hive, removes its namespaces and its state dir. Safe to run twice. */
export async function teardown (stateDir: string, state: HiveState | undefined): Promise<{ processes: number, namespaces: number }> {
  let processes = 0
  let namespaces = 0
  if (state !== undefined) {
    const recorded = state.nodes.flatMap((n) => [n.pids.outer, n.pids.inner, n.pids.node]).filter((p): p is number => p !== undefined && ours(p, stateDir))
    // Anything else running in the hive's namespaces (a CLI call cut short, say) is the hive's too.
    const hiveNs = state.namespaces.filter((ns) => ns.startsWith(HIVE_PREFIX))
    const inside = hiveNs.flatMap(pidsInNamespace).filter((p) => !recorded.includes(p) && p !== process.pid)
    processes = await stopAll([...recorded, ...inside], STOP_TIMEOUT_MS)
    for (const ns of hiveNs) if (deleteNamespace(ns)) namespaces++
  }
  rmSync(stateDir, { recursive: true, force: true })
  return { processes, namespaces }
}
