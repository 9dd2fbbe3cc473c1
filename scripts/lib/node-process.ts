// What the tests, the benchmarks and `npm run hive` share about running the CLI's nodes: one
// copy of the environment they give a node and of reading its "node ready" line.
import { existsSync } from 'node:fs'

/** What a started node's `node ready` log line says (stdout, JSON, one line; see src/cli/commands/serve.ts). */
export interface ReadyLine {
  node_id: string
  peer_id: string
  node_name: string
  url: string
  local_url: string
  mcp_url: string
  tls_fingerprint: string | null
  p2p_addrs: string[]
  metrics_url: string | null
  console_url: string | null
}

/**
 * The caller's environment without the developer's EDGE_HIVE_* settings and LOG_LEVEL, so a node
 * sees only what it is given, nor npm's `npm_command` (a node run from `npm test` would call
 * itself `npx edge-hive` in its messages), nor the names in `drop` (prefixes end in `_`).
 */
export function cleanEnv (extra: Record<string, string> = {}, drop: string[] = []): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('EDGE_HIVE_') || k === 'LOG_LEVEL' || k === 'npm_command') continue
    if (drop.some((d) => d.endsWith('_') ? k.startsWith(d) : k === d)) continue
    env[k] = v
  }
  return { ...env, ...extra }
}

/** The ready line, if this log line is it. */
export function readyLineOf (line: string): ReadyLine | undefined {
  if (!line.includes('"node ready"')) return undefined
  try {
    const entry = JSON.parse(line) as Record<string, unknown>
    return entry.msg === 'node ready' ? entry as unknown as ReadyLine : undefined
  } catch {
    return undefined
  }
}

/** Splits a stream's chunks into whole lines, for `onLine`; a partial last line waits for its end. */
export function lines (onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let buffered = ''
  return (chunk) => {
    buffered += chunk.toString()
    let nl: number
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      onLine(line)
    }
  }
}

const SETPRIV = '/usr/bin/setpriv'
/** Whether diesWithParent can ask for the parent-death signal here (Linux, with util-linux's setpriv). */
export const HAS_PARENT_DEATH_SIGNAL = process.platform === 'linux' && existsSync(SETPRIV)

/**
 * `argv` made to die with the process that starts it, for nodes and tools a test or a benchmark
 * runs: on Linux, util-linux's setpriv asks the kernel to send the child SIGKILL when its parent
 * exits (PR_SET_PDEATHSIG, kept across the exec of the node and of `ip netns exec`). A test's
 * `after` hooks stop what it started, but they do not run when the test runner kills the test
 * file's process (a file over its time limit, a runner stopped with Ctrl-C), and the nodes then
 * ran on after the run. Not for `npm run hive`, whose nodes are meant to outlive the command.
 * Without setpriv, argv as it is: the hooks are then the only clean-up.
 */
export function diesWithParent (argv: string[]): { cmd: string, args: string[] } {
  return HAS_PARENT_DEATH_SIGNAL ? { cmd: SETPRIV, args: ['--pdeathsig', 'KILL', '--', ...argv] } : { cmd: argv[0]!, args: argv.slice(1) }
}
