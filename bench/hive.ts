// 5. Hive: for each size, nodes each in a network namespace of their own on a private bridge
// (test/hive/netns.ts: nothing reaches the machine's network), with the default store and
// settings plus --discovery (mDNS), as the hive tests run them.
//  - formation: a founder starts, founds the hive (`hive init`) and mints one invitation for
//    the others (`hive invite --uses N-1`); then the N-1 members are spawned at once, each with
//    EDGE_HIVE_JOIN_TOKEN and the founder as --bootstrap. Measured: from spawning the members
//    until every node lists every other as `online`, a member, with its capabilities advert.
//  - resident memory (VmRSS) of each node once the hive is formed and idle.
//  - a member killed (SIGKILL): time until every other node lists it `offline`.
// A monitor process on one more host of the bridge polls every node's list_peers.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TestNetwork, netnsUnavailable, type TestHost } from '../test/hive/netns.ts'
import { BenchNode, CLI, Cleanup, cleanEnv, cpuMs, execFileP, rssBytes, sleep } from './lib/node.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'

const MONITOR = fileURLToPath(new URL('./servers/hive-monitor.ts', import.meta.url))
/** BENCH_HIVE_LOGS=<dir>: keep every node's log there (named by hive size and node), to look into a run. */
const LOG_DIR = process.env.BENCH_HIVE_LOGS
/** BENCH_HIVE_PROF=<dir>: run the first member with --cpu-prof (written when it is stopped at the end). */
const PROF_DIR = process.env.BENCH_HIVE_PROF
const HTTPS_PORT = 8443
/** The default --peer-offline-after is 15 s; a killed node's connections close at once, so it is normally seen far sooner. */
const offlineTimeoutMs = (quick: boolean): number => quick ? 10_000 : 18_000
/** Time kept after formation for idle sampling, the kill and the clean-up. */
const reserveMs = (quick: boolean): number => offlineTimeoutMs(quick) + (quick ? 4000 : 10_000)
const P2P_PORT = 4001

export interface HiveSizeData {
  nodes: number
  /** Founder start, hive init and invitation, before the clock starts. */
  setup_ms: number
  /** From spawning the members until each had logged `node ready` (slowest member). */
  members_ready_ms: number
  /** From spawning the members until every node lists every other online with capabilities; null: not within the time limit. */
  formed_ms: number | null
  form_timeout_ms: number
  /** When not formed: how many nodes saw all others, and what the others saw instead (pairs by state). */
  not_formed?: { nodes_seeing_all: number, pairs_by_state: Record<string, number> }
  rss_bytes: { mean: number, min: number, max: number }
  /** CPU use of each idle node (after formation), % of one core: mean over the nodes. */
  idle_cpu_pct: number
  /** From SIGKILL of a member until every other node lists it offline; null: not measured or not seen. */
  offline_ms: number | null
  offline_note?: string
  /** Nodes that exited by themselves during the run, with the end of their stderr. */
  exited?: Array<{ peer_id: string, code: number | null, signal: string | null, stderr: string }>
}

interface MonitorEvent { event: string, at?: number, detail?: TimeoutDetail, done?: number, of?: number, message?: string }
interface TimeoutDetail { pending: string[], of: number, views: Record<string, Record<string, string>> }
type WatchResult = { ok: true, at: number } | { ok: false, at: number, detail: TimeoutDetail }
const GOOD = 'online:member:advert'

class Monitor {
  readonly child: ChildProcess
  readonly #waiters: Array<(e: MonitorEvent) => void> = []
  readonly #events: MonitorEvent[] = []
  stderr = ''

  constructor (net: TestNetwork, host: TestHost) {
    const { cmd, args } = net.command(host, [process.execPath, MONITOR])
    this.child = spawn(cmd, args, { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let e: MonitorEvent
      try { e = JSON.parse(line) as MonitorEvent } catch { return }
      const w = this.#waiters.shift()
      if (w !== undefined) w(e); else this.#events.push(e)
    })
  }

  async next (): Promise<MonitorEvent> {
    const e = this.#events.shift()
    if (e !== undefined) return e
    return await new Promise((resolve, reject) => {
      const onClose = (): void => reject(new Error(`hive monitor exited; stderr: ${this.stderr.slice(-1000)}`))
      this.child.once('close', onClose)
      this.#waiters.push((ev) => { this.child.off('close', onClose); resolve(ev) })
    })
  }

  /** Sends a watch and waits for its answer (progress lines are logged). */
  async watch (cmd: Record<string, unknown>, log: (s: string) => void): Promise<WatchResult> {
    this.child.stdin!.write(JSON.stringify({ cmd: 'watch', ...cmd }) + '\n')
    for (;;) {
      const e = await this.next()
      if (e.event === 'progress') { log(`    ${e.done}/${e.of} nodes see ${cmd.expect === 'online' ? 'all others online' : 'it offline'}`); continue }
      if (e.event === 'started') continue
      if (e.event === cmd.expect && typeof e.at === 'number') return { ok: true, at: e.at }
      if (e.event === 'timeout' && typeof e.at === 'number' && e.detail !== undefined) return { ok: false, at: e.at, detail: e.detail }
      throw new Error(`hive monitor: ${JSON.stringify(e)}`)
    }
  }

  stop (): void {
    this.child.stdin!.end()
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

async function formHive (n: number, ctx: Parameters<Benchmark['run']>[0]): Promise<HiveSizeData> {
  const cleanup = new Cleanup()
  try {
    // One host per node and one for the monitor. Destroyed last (after the processes).
    const net = TestNetwork.create(n + 1)
    cleanup.add(() => net.destroy())
    const hosts = net.hosts.slice(0, n)
    const monitorHost = net.hosts[n]!
    const nodeArgs = (host: TestHost, i: number): string[] => ['--name', `bench-${i + 1}`, '--host', host.ip, '--port', String(HTTPS_PORT),
      '--p2p-listen', `/ip4/0.0.0.0/tcp/${P2P_PORT}`, '--discovery']
    const dirs = hosts.map(() => cleanup.tempDir())
    const t0Setup = Date.now()

    const logFile = (i: number): { logFile?: string } => LOG_DIR === undefined ? {} : { logFile: join(LOG_DIR, `hive${n}-node${i + 1}.log`) }
    const founder = await BenchNode.start({ dataDir: dirs[0]!, args: nodeArgs(hosts[0]!, 0), wrap: (argv) => net.command(hosts[0]!, argv), ...logFile(0) })
    cleanup.add(async () => await founder.kill())
    const cli = async (args: string[]): Promise<string> => {
      const { cmd, args: a } = net.command(hosts[0]!, [process.execPath, CLI, ...args, '--data-dir', dirs[0]!])
      return (await execFileP(cmd, a, { env: cleanEnv(), timeout: 60_000 })).stdout
    }
    await cli(['hive', 'init'])
    const { token } = JSON.parse(await cli(['hive', 'invite', '--json', '--uses', String(Math.max(1, n - 1)), '--ttl', '10m'])) as { token: string }
    const bootstrap = `/ip4/${hosts[0]!.ip}/tcp/${P2P_PORT}/p2p/${founder.ready.peer_id}`

    const monitor = new Monitor(net, monitorHost)
    cleanup.add(() => monitor.stop())
    const setupMs = Date.now() - t0Setup

    // The clock starts: every member spawned at once.
    const t0 = Date.now()
    const spawned = hosts.slice(1).map((host, j) => BenchNode.spawn({
      dataDir: dirs[j + 1]!, args: [...nodeArgs(host, j + 1), '--bootstrap', bootstrap],
      env: cleanEnv({ EDGE_HIVE_JOIN_TOKEN: token, ...(LOG_DIR === undefined ? {} : { LOG_LEVEL: 'debug' }) }), wrap: (argv) => net.command(host, argv), timeoutMs: 180_000, ...logFile(j + 1),
      ...(PROF_DIR !== undefined && j === 0 ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] } : {})
    }))
    for (const [j, s] of spawned.entries()) cleanup.add(async () => { if (PROF_DIR !== undefined && j === 0) await s.node.stop(); else await s.node.kill() })
    const targets = (nodes: BenchNode[]): Array<{ peer_id: string, url: string, data_dir: string }> => nodes.map((nd, k) => ({
      peer_id: nd.ready.peer_id, url: `https://${hosts[k]!.ip}:${HTTPS_PORT}`, data_dir: nd.dataDir
    }))
    const members = await Promise.all(spawned.map(async (s) => await s.whenReady))
    const membersReadyMs = Date.now() - t0
    ctx.log(`  ${n} nodes: members spawned at once, all ready (HTTPS listening) after ${fmt.s(membersReadyMs)}`)
    const all = [founder, ...members]
    const interval = Math.max(250, n * 40)
    // Formation gets 15 s + 2.5 s a node from the members' spawn, but no more than the run's
    // time budget leaves (kept for the rest of this size: idle sampling, kill, clean-up).
    const formTimeoutMs = Math.max(10_000, Math.min(15_000 + 2500 * n, ctx.deadline - performance.now() - reserveMs(ctx.quick) + (Date.now() - t0)))
    const formed = await monitor.watch({ expect: 'online', nodes: targets(all), interval_ms: interval, timeout_ms: Math.max(1000, formTimeoutMs - (Date.now() - t0)) }, ctx.log)
    const out: HiveSizeData = {
      nodes: n, setup_ms: setupMs, members_ready_ms: membersReadyMs, formed_ms: formed.ok ? formed.at - t0 : null, form_timeout_ms: formTimeoutMs,
      rss_bytes: { mean: 0, min: 0, max: 0 }, idle_cpu_pct: 0, offline_ms: null
    }
    if (formed.ok) {
      ctx.log(`  ${n} nodes: all online with capabilities after ${fmt.s(formed.at - t0)} (setup before the clock ${fmt.s(setupMs)})`)
    } else {
      const pairs: Record<string, number> = {}
      for (const view of Object.values(formed.detail.views)) {
        for (const state of Object.values(view)) if (state !== GOOD) pairs[state] = (pairs[state] ?? 0) + 1
      }
      out.not_formed = { nodes_seeing_all: n - formed.detail.pending.length, pairs_by_state: pairs }
      ctx.log(`  ${n} nodes: NOT formed within ${fmt.s(formTimeoutMs)}: ${out.not_formed.nodes_seeing_all}/${n} nodes see all others; the other views: ${JSON.stringify(pairs)}`)
    }

    // Idle: resident memory and CPU of each node (`ip netns exec` execs the node: same pid).
    const idleMs = ctx.quick ? 1000 : 3000
    const alive = (): BenchNode[] => all.filter((nd) => nd.running)
    const cpu0 = new Map(alive().map((nd) => [nd, cpuMs(nd.pid)]))
    await sleep(idleMs)
    const up = alive().filter((nd) => cpu0.has(nd))
    out.idle_cpu_pct = up.reduce((sum, nd) => sum + 100 * (cpuMs(nd.pid) - cpu0.get(nd)!) / idleMs, 0) / up.length
    const rss = up.map((nd) => rssBytes(nd.pid))
    out.rss_bytes = { mean: rss.reduce((a, b) => a + b, 0) / rss.length, min: Math.min(...rss), max: Math.max(...rss) }

    // A member killed: every other node must see it offline. The victim is the last member
    // that every other node lists online (all of them when the hive formed).
    // Seen by all: every other node saw all (not pending), or lists this one online with its advert.
    const seenByAll = (nd: BenchNode): boolean => formed.ok || all.every((o) => o === nd || !formed.detail.pending.includes(o.ready.peer_id) || formed.detail.views[o.ready.peer_id]?.[nd.ready.peer_id] === GOOD)
    const died = all.filter((nd) => !nd.running)
    if (died.length > 0) {
      out.exited = died.map((nd) => ({ peer_id: nd.ready.peer_id, code: nd.child.exitCode, signal: nd.child.signalCode, stderr: nd.stderr.slice(-1500) }))
      ctx.log(`  ${n} nodes: ${died.length} node(s) EXITED during the run: ${JSON.stringify(out.exited).slice(0, 1500)}`)
    }
    const victim = [...members].reverse().find((nd) => nd.running && seenByAll(nd))
    if (victim === undefined) {
      out.offline_note = 'no member was listed online by all others'
    } else {
      const others = targets(all).filter((t) => t.peer_id !== victim.ready.peer_id && all.find((nd) => nd.ready.peer_id === t.peer_id)!.running)
      const killedAt = Date.now()
      victim.child.kill('SIGKILL')
      const off = await monitor.watch({ expect: 'offline', target: victim.ready.peer_id, nodes: others, interval_ms: interval, timeout_ms: offlineTimeoutMs(ctx.quick) }, ctx.log)
      if (off.ok) out.offline_ms = off.at - killedAt
      else out.offline_note = `not offline on all within ${fmt.s(offlineTimeoutMs(ctx.quick))} (${others.length - off.detail.pending.length}/${others.length})`
    }
    ctx.log(`  ${n} nodes: RSS per idle node ${fmt.mib(out.rss_bytes.mean)} (${fmt.mib(out.rss_bytes.min)}..${fmt.mib(out.rss_bytes.max)}), idle CPU ${out.idle_cpu_pct.toFixed(1)}% per node, killed node offline on all ${out.offline_ms === null ? out.offline_note! : fmt.s(out.offline_ms)}`)
    return out
  } finally {
    await cleanup.run()
  }
}

export const hive: Benchmark = {
  name: 'hive',
  section: 5,
  title: 'hive formation, memory, failure detection (network namespaces)',
  async run (ctx) {
    const why = netnsUnavailable()
    if (why !== undefined) throw new Error(`the hive benchmark needs network namespaces (root, iproute2): ${why}`)
    const sizes: HiveSizeData[] = []
    const skipped: number[] = []
    for (const n of ctx.hiveSizes) {
      // A size needs about 1.2 s a node to start its members on 2 cores, and a few seconds more.
      if (ctx.deadline - performance.now() < 8000 + 1200 * n) { skipped.push(n); ctx.log(`  ${n} nodes: SKIPPED, the run's time budget is used up`); continue }
      sizes.push(await formHive(n, ctx))
    }
    const rows: Row[] = sizes.flatMap((s) => [
      {
        section: 5, benchmark: `hive of ${s.nodes}: start to all online with capabilities`, clients: s.nodes,
        result: s.formed_ms === null ? `> ${fmt.s(s.form_timeout_ms)}` : fmt.s(s.formed_ms),
        ratio: s.not_formed === undefined
          ? `nodes up after ${fmt.s(s.members_ready_ms)}`
          : `NOT FORMED: ${s.not_formed.nodes_seeing_all}/${s.nodes} see all; other views ${Object.entries(s.not_formed.pairs_by_state).map(([k, v]) => `${v} ${k}`).join(', ')}`
      },
      { section: 5, benchmark: `hive of ${s.nodes}: resident memory per idle node`, clients: s.nodes, result: fmt.mib(s.rss_bytes.mean), ratio: `min ${fmt.mib(s.rss_bytes.min)}, max ${fmt.mib(s.rss_bytes.max)}; idle CPU ${s.idle_cpu_pct.toFixed(1)}% of a core per node` },
      { section: 5, benchmark: `hive of ${s.nodes}: killed node offline on all`, clients: s.nodes, result: s.offline_ms === null ? 'n/a' : fmt.s(s.offline_ms), ...(s.offline_note === undefined ? {} : { ratio: s.offline_note }) },
      ...(s.exited === undefined ? [] : [{ section: 5, benchmark: `hive of ${s.nodes}: nodes that exited by themselves`, clients: s.nodes, result: String(s.exited.length), ratio: s.exited[0]!.stderr.split('\n').find((l) => /^\w*Error\b|Error:/.test(l))?.slice(0, 100) ?? `exit ${s.exited[0]!.code ?? s.exited[0]!.signal}` }])
    ])
    for (const n of skipped) rows.push({ section: 5, benchmark: `hive of ${n}`, clients: n, result: 'skipped', ratio: 'the run\'s time budget was used up (run `npm run bench -- --only hive`)' })
    return { rows, data: { sizes, skipped, offline_after_default_s: 15 } }
  }
}
