// A hive of two on loopback, as test/hive/forwarding.test.ts forms one: A starts, runs
// `hive init` and mints an invitation; B starts with it (EDGE_HIVE_JOIN_TOKEN) and A as
// --bootstrap, and lets callers from the hive call its tools (--hive-scopes mcp:read,mcp:call).
// No network namespaces (no root needed): both listen on 127.0.0.1 only.
import { BenchNode, CLI, Cleanup, UNTHROTTLED, cleanEnv, execFileP, loopbackArgs, sleep } from './node.ts'

export interface HivePair {
  /** The node the agent calls; it forwards to B. */
  a: BenchNode
  /** The member whose tools are called, directly and through A. */
  b: BenchNode
  /** From B's spawn until B's MCP endpoint answered through A. */
  joinedMs: number
}

/** `edge-hive <args> --data-dir <node's>`, the CLI as an operator runs it; its stdout. */
async function nodeCli (node: BenchNode, args: string[]): Promise<string> {
  return (await execFileP(process.execPath, [CLI, ...args, '--data-dir', node.dataDir], { env: cleanEnv(), timeout: 30_000 })).stdout
}

/**
 * Starts A and B, forms the hive, and waits until `reachable()` (a call through A to B) holds,
 * within `timeoutMs`. Both nodes are stopped gracefully by `cleanup` (so a `--cpu-prof` of A
 * is written). `aNodeFlags` go to A's Node.js (e.g. `--cpu-prof`).
 */
export async function startHivePair (cleanup: Cleanup, o: { aNodeFlags?: string[], reachable: (pair: Omit<HivePair, 'joinedMs'>) => Promise<boolean>, timeoutMs: number }): Promise<HivePair> {
  const a = await BenchNode.start({ dataDir: cleanup.tempDir(), args: loopbackArgs([...UNTHROTTLED, '--name', 'bench-a']), nodeFlags: o.aNodeFlags ?? [] })
  cleanup.add(async () => await a.stop())
  await nodeCli(a, ['hive', 'init'])
  const { token } = JSON.parse(await nodeCli(a, ['hive', 'invite', '--json', '--ttl', '10m'])) as { token: string }
  const t0 = performance.now()
  const b = await BenchNode.start({
    dataDir: cleanup.tempDir(),
    args: loopbackArgs([...UNTHROTTLED, '--name', 'bench-b', '--bootstrap', a.ready.p2p_addrs[0]!, '--hive-scopes', 'mcp:read,mcp:call']),
    env: cleanEnv({ EDGE_HIVE_JOIN_TOKEN: token })
  })
  cleanup.add(async () => await b.stop())
  const until = t0 + o.timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await o.reachable({ a, b })) return { a, b, joinedMs: performance.now() - t0 }
    } catch (err) { last = err }
    if (performance.now() > until) {
      throw new Error(`B (${b.ready.node_id}) could not be reached through A within ${(o.timeoutMs / 1000).toFixed(0)} s: ${(last as Error | undefined)?.message ?? 'not yet a member'}`)
    }
    await sleep(250)
  }
}
