// 6. Start-up: time from spawning `edge-hive serve` to /readyz answering 200, on a first start
// (empty data dir: keys, certificate, operator client and database are made) and on a restart
// of the same node (same data dir, same port). The default store (embedded SurrealKV in the
// data dir) so that a restart reopens it, and the default transports (TCP and QUIC, on
// loopback); then the same restarts of a node that listens on TCP only, which does not load
// QUIC. Then, on the restarted node of the last run: its
// resident memory after a few idle seconds (a lone node, no peers, nothing asked), and the wall
// time of CLI commands a person runs beside it (`--version`; `status` and `clients list`, which
// ask the running node over HTTPS), each the median of a few runs, the compile cache warm.
import { freePort } from '../test/helpers/cli.ts'
import { BenchNode, CLI, Cleanup, cleanEnv, execFileP, request, rssBytes, sleep, type StartOptions } from './lib/node.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'

export interface StartupData {
  /** Medians of the runs below. */
  first_ms: number
  restart_ms: number
  first_runs_ms: number[]
  restart_runs_ms: number[]
  /** The same starts, to the node's own `node ready` log line. */
  first_ready_line_ms: number[]
  restart_ready_line_ms: number[]
  /** VmRSS of the restarted node of the last run, idle for IDLE_MS. */
  rss_bytes: number
  /** The same node's VmRSS once it has idled SETTLED_MS (V8 gives back its young generation after some 20 s idle); null with --quick. */
  rss_settled_bytes: number | null
  /** Wall time of each CLI command, median of CLI_RUNS, from spawn to exit. */
  cli_ms: Record<string, number>
  /** A node that listens on TCP only (QUIC not loaded): median restart, and its idle VmRSS. */
  tcp_only_restart_ms: number
  tcp_only_rss_bytes: number
}

const IDLE_MS = 5000
const SETTLED_MS = 40_000
const CLI_RUNS = 5
/** The commands timed, by the key they have in cli_ms. */
const COMMANDS: Record<string, string[]> = { version: ['--version'], status: ['status'], clients_list: ['clients', 'list'] }

async function timeCli (args: string[], dataDir: string): Promise<number> {
  const runs: number[] = []
  for (let i = 0; i < CLI_RUNS; i++) {
    const t0 = performance.now()
    await execFileP(process.execPath, [CLI, ...args, ...(args[0] === '--version' ? [] : ['--data-dir', dataDir])], { env: cleanEnv(), timeout: 30_000 })
    runs.push(performance.now() - t0)
  }
  return median(runs)
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Spawns the node and polls /readyz every 10 ms; returns ms to the first 200 and to the ready line. */
async function timeToReady (o: StartOptions, port: number, cleanup: Cleanup): Promise<{ node: BenchNode, readyz: number, line: number }> {
  const { node, whenReady } = BenchNode.spawn(o)
  cleanup.add(async () => await node.kill())
  let readyz = 0
  const deadline = node.spawnedAt + 60_000
  while (readyz === 0) {
    if (!node.running) await whenReady // rejects with the node's stderr
    if (performance.now() > deadline) throw new Error(`/readyz did not answer 200 within 60 s; stderr: ${node.stderr.slice(-1000)}`)
    const res = await request(`https://127.0.0.1:${port}/readyz`, { timeoutMs: 2000 }).catch(() => undefined)
    if (res?.status === 200) readyz = performance.now() - node.spawnedAt
    else await sleep(10)
  }
  await whenReady
  return { node, readyz, line: node.readyAt - node.spawnedAt }
}

export const startup: Benchmark = {
  name: 'startup',
  section: 6,
  title: 'start-up to /readyz 200',
  async run (ctx) {
    const cleanup = new Cleanup()
    const data: StartupData = {
      first_ms: 0, restart_ms: 0, first_runs_ms: [], restart_runs_ms: [], first_ready_line_ms: [], restart_ready_line_ms: [],
      rss_bytes: 0, rss_settled_bytes: null, cli_ms: {}, tcp_only_restart_ms: 0, tcp_only_rss_bytes: 0
    }
    const options = async (listen: string[]): Promise<{ o: StartOptions, port: number }> => {
      const port = await freePort()
      return { port, o: { dataDir: cleanup.tempDir(), args: ['--host', '127.0.0.1', '--port', String(port), ...listen.flatMap((a) => ['--p2p-listen', a]), '--metrics-port', '0'] } }
    }
    try {
      for (let i = 0; i < ctx.startups; i++) {
        const { o, port } = await options(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1'])
        const dataDir = o.dataDir
        const first = await timeToReady(o, port, cleanup)
        await first.node.stop()
        const again = await timeToReady(o, port, cleanup)
        if (i === ctx.startups - 1) {
          await sleep(IDLE_MS)
          data.rss_bytes = rssBytes(again.node.pid)
          // Before the CLI's requests, which make the node work.
          if (!ctx.quick) {
            await sleep(Math.max(0, again.node.readyAt + SETTLED_MS - performance.now()))
            data.rss_settled_bytes = rssBytes(again.node.pid)
          }
          for (const [key, args] of Object.entries(COMMANDS)) data.cli_ms[key] = await timeCli(args, dataDir)
          const settled = data.rss_settled_bytes === null ? '' : `, ${fmt.mib(data.rss_settled_bytes)} settled`
          ctx.log(`  idle RSS ${fmt.mib(data.rss_bytes)}${settled}; CLI ${Object.entries(data.cli_ms).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')}`)
        }
        await again.node.stop()
        data.first_runs_ms.push(first.readyz)
        data.restart_runs_ms.push(again.readyz)
        data.first_ready_line_ms.push(first.line)
        data.restart_ready_line_ms.push(again.line)
        ctx.log(`  run ${i + 1}: first start ${first.readyz.toFixed(0)} ms, restart ${again.readyz.toFixed(0)} ms (ready line ${first.line.toFixed(0)} / ${again.line.toFixed(0)} ms)`)
      }
      const tcpRuns: number[] = []
      for (let i = 0; i < ctx.startups; i++) {
        const { o, port } = await options(['/ip4/127.0.0.1/tcp/0'])
        await (await timeToReady(o, port, cleanup)).node.stop()
        const again = await timeToReady(o, port, cleanup)
        tcpRuns.push(again.readyz)
        if (i === ctx.startups - 1) {
          await sleep(IDLE_MS)
          data.tcp_only_rss_bytes = rssBytes(again.node.pid)
        }
        await again.node.stop()
      }
      data.tcp_only_restart_ms = median(tcpRuns)
      ctx.log(`  TCP only: restart ${data.tcp_only_restart_ms.toFixed(0)} ms, idle RSS ${fmt.mib(data.tcp_only_rss_bytes)}`)
      const of = ctx.startups > 1 ? `median of ${ctx.startups}` : '1 run'
      data.first_ms = median(data.first_runs_ms)
      data.restart_ms = median(data.restart_runs_ms)
      const rows: Row[] = [
        { section: 6, benchmark: `start-up to /readyz 200, first start (${of})`, result: fmt.s(data.first_ms) },
        { section: 6, benchmark: `start-up to /readyz 200, restart (${of})`, result: fmt.s(data.restart_ms), ratio: `restart/first ${fmt.ratio(data.restart_ms, data.first_ms)}` },
        { section: 6, benchmark: `resident memory of a lone node, idle ${fmt.s(IDLE_MS)} after its restart`, result: fmt.mib(data.rss_bytes) },
        ...(data.rss_settled_bytes === null
          ? []
          : [{ section: 6, benchmark: `resident memory of the same node, idle ${fmt.s(SETTLED_MS)} after its restart`, result: fmt.mib(data.rss_settled_bytes) }]),
        { section: 6, benchmark: `start-up to /readyz 200, restart, listening on TCP only (${of})`, result: fmt.s(data.tcp_only_restart_ms) },
        { section: 6, benchmark: 'resident memory of a lone node listening on TCP only', result: fmt.mib(data.tcp_only_rss_bytes) },
        ...Object.entries(COMMANDS).map(([key, args]): Row => ({
          section: 6,
          benchmark: `CLI \`edge-hive ${args.join(' ')}\`${key === 'version' ? '' : ' (node running)'} (median of ${CLI_RUNS})`,
          result: `${data.cli_ms[key]!.toFixed(0)} ms`
        }))
      ]
      return { rows, data }
    } finally {
      await cleanup.run()
    }
  }
}
