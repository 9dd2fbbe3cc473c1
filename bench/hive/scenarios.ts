// What happens to a formed hive when a member goes away, comes back, or is removed, each timed
// from the moment it happens until every other node's peer table shows it (the monitor polls
// them). Each returns its figure in ms, or null with the reason.
import type { TestNetwork, TestHost } from '../../test/hive/netns.ts'
import { fmt } from '../lib/context.ts'
import type { BenchNode } from '../lib/node.ts'
import type { Monitor, Target, Watch, WatchResult } from './monitor.ts'

/** A hive being measured: node i runs on host i (the founder is 0). */
export interface HiveUnderTest {
  net: TestNetwork
  hosts: TestHost[]
  /** The current process of each node (a restart replaces it). */
  nodes: BenchNode[]
  monitor: Monitor
  /** The nodes' HTTPS port (each on its host's address). */
  httpsPort: number
  /** How often the monitor polls every node. */
  intervalMs: number
  log (line: string): void
  /** Starts node i's process again with the same data dir and flags as at formation (no join token). */
  restart (i: number): { node: BenchNode, whenReady: Promise<BenchNode> }
  /** Runs the CLI on the founder's host against the founder (`--data-dir` added); its stdout. */
  founderCli (args: string[]): Promise<string>
}

/** Node i as the monitor polls it. */
export function target (h: HiveUnderTest, i: number): Target {
  return { peer_id: h.nodes[i]!.ready.peer_id, url: `https://${h.hosts[i]!.ip}:${h.httpsPort}`, data_dir: h.nodes[i]!.dataDir }
}

/** Every running node but node i, as the monitor polls them. */
export function othersThan (h: HiveUnderTest, i: number): Target[] {
  return h.nodes.flatMap((nd, k) => k !== i && nd.running ? [target(h, k)] : [])
}

async function watch (h: HiveUnderTest, w: Watch, timeoutMs: number): Promise<WatchResult> {
  return await h.monitor.watch({ ...w, interval_ms: h.intervalMs, timeout_ms: timeoutMs }, h.log)
}

/** How many of the watched nodes saw it, and what the others saw (`n/m; views: state x k`). */
function shortfall (r: Extract<WatchResult, { ok: false }>): string {
  const seen: Record<string, number> = {}
  for (const p of r.detail.pending) for (const v of Object.values(r.detail.views[p] ?? { '': 'not answering' })) seen[v] = (seen[v] ?? 0) + 1
  return `${r.detail.of - r.detail.pending.length}/${r.detail.of}; the others see it ${Object.entries(seen).map(([v, k]) => `${v} x${k}`).join(', ')}`
}

export interface Outcome { ms: number | null, note?: string }

/** SIGKILL of node i: until every other running node lists it `offline`. */
export async function killMember (h: HiveUnderTest, i: number, timeoutMs: number): Promise<Outcome> {
  const others = othersThan(h, i)
  const killedAt = Date.now()
  h.nodes[i]!.child.kill('SIGKILL')
  const r = await watch(h, { expect: 'offline', target: h.nodes[i]!.ready.peer_id, nodes: others }, timeoutMs)
  return r.ok ? { ms: r.at - killedAt } : { ms: null, note: `not offline on all within ${fmt.s(timeoutMs)}: ${shortfall(r)}` }
}

export interface RestartOutcome extends Outcome {
  /** From spawning the process again until it logged `node ready`; null: it did not. */
  ready_ms: number | null
}

/**
 * Node i (stopped) started again on the same data dir and flags: from its `node ready` until
 * every other running node lists it `online`, a member, with an advert signed after the restart
 * (an advert's seq is the time it was made), so a table still holding the old advert does not count.
 */
export async function restartMember (h: HiveUnderTest, i: number, timeoutMs: number): Promise<RestartOutcome> {
  const peerId = h.nodes[i]!.ready.peer_id
  await h.nodes[i]!.exited // its ports free again
  const spawnedAt = Date.now()
  const started = h.restart(i)
  let node: BenchNode
  try {
    node = await started.whenReady
  } catch (err) {
    return { ready_ms: null, ms: null, note: `did not start again: ${(err as Error).message.slice(0, 300)}` }
  }
  h.nodes[i] = node
  // The ready line's time on this clock (readyAt is performance.now(); the monitor reports Date.now()).
  const readyAt = Date.now() - (performance.now() - node.readyAt)
  const readyMs = Math.round(readyAt - spawnedAt)
  if (node.ready.peer_id !== peerId) return { ready_ms: readyMs, ms: null, note: `came back as another peer (${node.ready.peer_id})` }
  const r = await watch(h, { expect: 'online', target: peerId, min_seq: spawnedAt, nodes: othersThan(h, i) }, timeoutMs)
  return r.ok
    ? { ready_ms: readyMs, ms: Math.max(0, Math.round(r.at - readyAt)) }
    : { ready_ms: readyMs, ms: null, note: `not online with a fresh advert on all within ${fmt.s(timeoutMs)} of its ready: ${shortfall(r)}` }
}

export interface RemovalOutcome extends Outcome {
  /** How long `edge-hive hive remove` took (start of the CLI process to its exit); null: it failed. */
  command_ms: number | null
}

/**
 * The founder runs `edge-hive hive remove <node i>`: from the command's start until no other
 * running node lists node i as a member (`member: false`, or no longer listed).
 */
export async function removeMember (h: HiveUnderTest, i: number, timeoutMs: number): Promise<RemovalOutcome> {
  const peerId = h.nodes[i]!.ready.peer_id
  const others = othersThan(h, i)
  const startedAt = Date.now()
  // The monitor watches while the command runs: the removal may reach some nodes before the CLI exits.
  const watching = watch(h, { expect: 'removed', target: peerId, nodes: others }, timeoutMs)
  const command = h.founderCli(['hive', 'remove', peerId, '--json']).then(
    (stdout) => {
      const answer = JSON.parse(stdout) as { removed?: boolean }
      return answer.removed === true ? { ms: Date.now() - startedAt } : { ms: null, error: `the founder answered ${stdout.trim()}` }
    },
    (err: Error & { stderr?: string }) => ({ ms: null, error: `hive remove failed: ${(err.stderr ?? err.message).trim().slice(0, 300)}` })
  )
  const [r, cmd] = await Promise.all([watching, command])
  if (cmd.ms === null) return { ms: null, command_ms: null, note: cmd.error }
  return r.ok
    ? { ms: r.at - startedAt, command_ms: cmd.ms }
    : { ms: null, command_ms: cmd.ms, note: `still a member somewhere ${fmt.s(timeoutMs)} after the command: ${shortfall(r)}` }
}
