// 5. Hive: for each size, nodes each in a network namespace of their own on a private bridge
// (test/hive/netns.ts: nothing reaches the machine's network), with the default store and
// settings plus --discovery (mDNS), as the hive tests run them.
//  - formation: a founder starts, founds the hive (`hive init`) and mints one invitation for
//    the others (`hive invite --uses N-1`); then the N-1 members are spawned at once, each with
//    EDGE_HIVE_JOIN_TOKEN and the founder as --bootstrap. Measured: from spawning the members
//    until every node lists every other as `online`, a member, with its capabilities advert.
//  - at rest (bench/hive/at-rest.ts), over 60 s after formation (5 s with --quick): CPU, resident
//    memory, p2p connections, packets and bytes per second of each node.
//  - then (bench/hive/scenarios.ts): a member killed (SIGKILL) until every other node lists it
//    `offline`; the same member started again until all list it `online` with a fresh advert; the
//    founder's `hive remove` of another member until no other node lists it as a member.
// A monitor process on one more host of the bridge polls every node's list_peers.
import { join } from 'node:path'
import { TestNetwork, netnsUnavailable } from '../test/hive/netns.ts'
import { BenchNode, CLI, Cleanup, cleanEnv, cpuMs, execFileP } from './lib/node.ts'
import { fmt, type BenchContext, type BenchOptions, type Benchmark } from './lib/context.ts'
import { Monitor, GOOD } from './hive/monitor.ts'
import { measureAtRest, type AtRest } from './hive/at-rest.ts'
import { killMember, removeMember, restartMember, target, type HiveUnderTest } from './hive/scenarios.ts'
import { hiveRows } from './hive/rows.ts'
import { SETTINGS } from '../src/config/settings.ts'
import type { HiveSizeData } from './hive/size-data.ts'

/** BENCH_HIVE_LOGS=<dir>: keep every node's log there (named by hive size and node), to look into a run. */
const LOG_DIR = process.env.BENCH_HIVE_LOGS
/** BENCH_HIVE_PROF=<dir>: run one node with --cpu-prof (written when it is stopped at the end): the first member, or node BENCH_HIVE_PROF_NODE (0 is the founder). */
const PROF_DIR = process.env.BENCH_HIVE_PROF
const PROF_NODE = Number(process.env.BENCH_HIVE_PROF_NODE ?? 1)
const HTTPS_PORT = 8443
/** --peer-offline-after as the nodes run it (the default; the bench sets no flag for it). */
const OFFLINE_AFTER_DEFAULT_MS = Number(SETTINGS.find((x) => x.key === 'peerOfflineAfter')?.default?.({}))
const P2P_PORT = 4001
/**
 * BENCH_HIVE_TRANSPORT=tcp|quic|both: what the nodes listen on (tcp by default); members bootstrap
 * through QUIC with quic, else TCP. Connections at rest are counted from TCP sockets: not with quic.
 */
const TRANSPORT = process.env.BENCH_HIVE_TRANSPORT ?? 'tcp'
const TCP_LISTEN = `/ip4/0.0.0.0/tcp/${P2P_PORT}`
const QUIC_LISTEN = `/ip4/0.0.0.0/udp/${P2P_PORT}/quic-v1`
const LISTENS: Record<string, string[]> = { tcp: [TCP_LISTEN], quic: [QUIC_LISTEN], both: [TCP_LISTEN, QUIC_LISTEN] }
const LISTEN = LISTENS[TRANSPORT] ?? []
if (LISTEN.length === 0) throw new Error(`BENCH_HIVE_TRANSPORT must be tcp, quic or both, not ${TRANSPORT}`)

/** How long each phase may take, by mode. */
const limits = (quick: boolean): { restMs: number, sampleMs: number, offlineMs: number, restartMs: number, removalMs: number } => ({
  /** The window at rest after formation (issue #13: the cost at rest over 60 s); connections are sampled every sampleMs. */
  restMs: quick ? 5000 : 60_000,
  sampleMs: quick ? 2500 : 10_000,
  /** The issue's goal is 15 s. A killed node's connections close at once and its neighbours tell the hive, so it does not wait for --peer-offline-after (60 s by default). */
  offlineMs: quick ? 10_000 : 18_000,
  /** From the restarted member's `node ready`, and from the start of `hive remove` (the issue's goals: 5 s each). */
  restartMs: quick ? 10_000 : 20_000,
  removalMs: quick ? 8000 : 15_000
})
/** Starting a member again (about 2 s on 2 cores), the CLI of `hive remove` (about 1 s), stopping everything. */
const SLACK_MS = 10_000
/** Time kept after formation for the rest of a size: the window, the kill, the restart, the removal, the clean-up. */
const reserveMs = (quick: boolean): number => { const l = limits(quick); return l.restMs + l.offlineMs + l.restartMs + l.removalMs + SLACK_MS }

async function measureHive (n: number, ctx: BenchContext): Promise<HiveSizeData> {
  const cleanup = new Cleanup()
  const lim = limits(ctx.quick)
  try {
    // One host per node and one for the monitor. Destroyed last (after the processes).
    const net = TestNetwork.create(n + 1)
    cleanup.add(() => net.destroy())
    const hosts = net.hosts.slice(0, n)
    const dirs = hosts.map(() => cleanup.tempDir())
    const bootstrap: string[] = []
    /** Node i's process, with the same flags every time: members also get the founder as --bootstrap. */
    const spawnNode = (i: number, o: { env?: Record<string, string>, again?: boolean } = {}): { node: BenchNode, whenReady: Promise<BenchNode> } => {
      const first = o.again !== true
      const prof = PROF_DIR !== undefined && i === PROF_NODE && first
      const s = BenchNode.spawn({
        dataDir: dirs[i]!,
        args: ['--name', `bench-${i + 1}`, '--host', hosts[i]!.ip, '--port', String(HTTPS_PORT), ...LISTEN.flatMap((a) => ['--p2p-listen', a]), '--discovery', ...(i === 0 ? [] : bootstrap)],
        env: cleanEnv({ ...o.env, ...(LOG_DIR === undefined ? {} : { LOG_LEVEL: 'debug' }) }),
        wrap: (argv) => net.command(hosts[i]!, argv),
        // A first start waits its turn for the CPU with all the others; a restart comes alone.
        timeoutMs: first ? 180_000 : 30_000,
        ...(LOG_DIR === undefined ? {} : { logFile: join(LOG_DIR, `hive${n}-node${i + 1}${first ? '' : '-restarted'}.log`) }),
        ...(prof ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] } : {})
      })
      cleanup.add(async () => { if (prof) await s.node.stop(); else await s.node.kill() })
      return s
    }
    const founderCli = async (args: string[]): Promise<string> => {
      const { cmd, args: a } = net.command(hosts[0]!, [process.execPath, CLI, ...args, '--data-dir', dirs[0]!])
      return (await execFileP(cmd, a, { env: cleanEnv(), timeout: 60_000 })).stdout
    }
    const t0Setup = Date.now()
    const founder = await spawnNode(0).whenReady
    await founderCli(['hive', 'init'])
    const { token } = JSON.parse(await founderCli(['hive', 'invite', '--json', '--uses', String(Math.max(1, n - 1)), '--ttl', '10m'])) as { token: string }
    // The founder's first listen address: QUIC with quic, else TCP.
    bootstrap.push('--bootstrap', `${LISTEN[0]!.replace('0.0.0.0', hosts[0]!.ip)}/p2p/${founder.ready.peer_id}`)
    const monitor = new Monitor(net, net.hosts[n]!)
    cleanup.add(() => monitor.stop())
    const setupMs = Date.now() - t0Setup

    // The clock starts: every member spawned at once.
    const t0 = Date.now()
    const spawned = hosts.slice(1).map((_, j) => spawnNode(j + 1, { env: { EDGE_HIVE_JOIN_TOKEN: token } }))
    const members = await Promise.all(spawned.map(async (s) => await s.whenReady))
    const membersReadyMs = Date.now() - t0
    ctx.log(`  ${n} nodes: members spawned at once, all ready (HTTPS listening) after ${fmt.s(membersReadyMs)}`)
    const h: HiveUnderTest = {
      net, hosts, nodes: [founder, ...members], monitor, httpsPort: HTTPS_PORT, intervalMs: Math.max(250, n * 40), log: ctx.log,
      restart: (i) => spawnNode(i, { again: true }), founderCli
    }
    const all = [...h.nodes]
    // Formation gets 15 s + 2.5 s a node from the members' spawn, and at least 10 s after the
    // slowest is ready (the issue's goal: formed 10 s after the last ready), so that a slow start
    // on a busy machine does not leave it a single poll; but no more than the run's time budget
    // leaves (kept for the rest of this size: see reserveMs).
    const formTimeoutMs = Math.max(10_000, Math.min(Math.max(15_000 + 2500 * n, membersReadyMs + 10_000), ctx.deadline - performance.now() - reserveMs(ctx.quick) + (Date.now() - t0)))
    const formed = await monitor.watch({ expect: 'online', nodes: all.map((_, i) => target(h, i)), interval_ms: h.intervalMs, timeout_ms: Math.max(1000, formTimeoutMs - (Date.now() - t0)) }, ctx.log)
    const cpu = members.flatMap((m) => { try { return [cpuMs(m.pid)] } catch { return [] } })
    const out: HiveSizeData = {
      nodes: n, transport: TRANSPORT, setup_ms: setupMs, members_ready_ms: membersReadyMs, formed_ms: formed.ok ? formed.at - t0 : null, form_timeout_ms: formTimeoutMs, poll_interval_ms: h.intervalMs,
      members_cpu_ms_at_formed: cpu.length === 0 ? null : { mean: cpu.reduce((a, b) => a + b, 0) / cpu.length, max: Math.max(...cpu) },
      at_rest: null, offline_ms: null, restart_ready_ms: null, restart_online_ms: null, removal_ms: null, removal_command_ms: null,
      timeouts_ms: { offline: lim.offlineMs, restart_online: lim.restartMs, removal: lim.removalMs }
    }
    if (formed.ok) {
      ctx.log(
        `  ${n} nodes: all online with capabilities after ${fmt.s(formed.at - t0)} (setup before the clock ${fmt.s(setupMs)}); CPU used by then per member ${fmt.s(out.members_cpu_ms_at_formed?.mean ?? NaN)} (max ${fmt.s(out.members_cpu_ms_at_formed?.max ?? NaN)})`
      )
    } else {
      const pairs: Record<string, number> = {}
      for (const view of Object.values(formed.detail.views)) {
        for (const state of Object.values(view)) if (state !== GOOD) pairs[state] = (pairs[state] ?? 0) + 1
      }
      out.not_formed = { nodes_seeing_all: n - formed.detail.pending.length, pairs_by_state: pairs }
      ctx.log(`  ${n} nodes: NOT formed within ${fmt.s(formTimeoutMs)}: ${out.not_formed.nodes_seeing_all}/${n} nodes see all others; the other views: ${JSON.stringify(pairs)}`)
    }

    // At rest (`ip netns exec` execs the node: its pid is the node's).
    ctx.log(`  ${n} nodes: at rest for ${fmt.s(lim.restMs)}`)
    const resting = all.flatMap((node, i) => node.running ? [{ node, host: hosts[i]! }] : [])
    try {
      out.at_rest = await measureAtRest(net, resting, { windowMs: lim.restMs, sampleEveryMs: lim.sampleMs, p2pPort: P2P_PORT, afterFormation: formed.ok }) ?? null
      if (out.at_rest === null) out.at_rest_note = 'no node ran through the window'
      else logAtRest(n, out.at_rest, ctx)
    } catch (err) {
      out.at_rest_note = `could not be read: ${(err as Error).message.slice(0, 300)}`
    }

    const died = all.filter((nd) => !nd.running)
    if (died.length > 0) {
      out.exited = died.map((nd) => ({ peer_id: nd.ready.peer_id, code: nd.child.exitCode, signal: nd.child.signalCode, stderr: nd.stderr.slice(-1500) }))
      ctx.log(`  ${n} nodes: ${died.length} node(s) EXITED during the run: ${JSON.stringify(out.exited).slice(0, 1500)}`)
    }
    // The members every other node lists online with an advert (all of them when the hive formed):
    // the last one is killed and restarted, the one before it removed.
    const seenByAll = (i: number): boolean => formed.ok || all.every((o, k) =>
      k === i || !formed.detail.pending.includes(o.ready.peer_id) || formed.detail.views[o.ready.peer_id]?.[all[i]!.ready.peer_id] === GOOD)
    const candidates = all.map((_, i) => i).filter((i) => i > 0 && all[i]!.running && seenByAll(i)).reverse()
    const [victim, removed] = candidates
    if (victim === undefined) {
      out.offline_note = out.restart_note = 'no member was listed online by all others'
    } else {
      const off = await killMember(h, victim, lim.offlineMs)
      out.offline_ms = off.ms
      if (off.note !== undefined) out.offline_note = off.note
      const back = await restartMember(h, victim, lim.restartMs)
      out.restart_ready_ms = back.ready_ms
      out.restart_online_ms = back.ms
      if (back.note !== undefined) out.restart_note = back.note
    }
    if (removed === undefined) {
      out.removal_note = 'no second member was listed online by all others'
    } else {
      const gone = await removeMember(h, removed, lim.removalMs)
      out.removal_ms = gone.ms
      out.removal_command_ms = gone.command_ms
      if (gone.note !== undefined) out.removal_note = gone.note
    }
    const seen = (ms: number | null, note: string | undefined): string => ms === null ? note ?? 'n/a' : fmt.s(ms)
    ctx.log(
      `  ${n} nodes: killed member offline on all ${seen(out.offline_ms, out.offline_note)}; restarted, online on all ${seen(out.restart_online_ms, out.restart_note)} after its ready; a removal reached all ${seen(out.removal_ms, out.removal_note)}`
    )
    return out
  } finally {
    await cleanup.run()
  }
}

function logAtRest (n: number, r: AtRest, ctx: BenchContext): void {
  const io = (s: AtRest['packets_per_s'], f: (x: number) => string): string => `in ${f(s.in.mean)} (max ${f(s.in.max)}), out ${f(s.out.mean)} (max ${f(s.out.max)})`
  ctx.log(`  ${n} nodes at rest (${r.nodes} measured over ${fmt.s(r.window_ms)}): CPU ${r.cpu_pct.mean.toFixed(2)}% (max ${r.cpu_pct.max.toFixed(2)}%) of a core, RSS ${fmt.mib(r.rss_bytes.mean)}, ` +
    `p2p connections ${TRANSPORT === 'quic' ? 'n/a (QUIC)' : `${r.connections.mean.toFixed(1)} (max ${r.connections.max})`}, packets/s ${io(r.packets_per_s, fmt.rate)}, bytes/s ${io(r.bytes_per_s, fmt.bytes)}`)
}

/** What the hive adds to the run's time budget (bench/run.ts BUDGET_S): the window at rest and the restart and removal of each size. */
function budgetS (o: BenchOptions): number {
  const l = limits(o.quick)
  return o.hiveSizes.length * (l.restMs + l.restartMs + l.removalMs + SLACK_MS) / 1000
}

export const hive: Benchmark = {
  name: 'hive',
  section: 5,
  title: 'hive formation, cost at rest, failure, restart and removal (network namespaces)',
  budgetS,
  async run (ctx) {
    const why = netnsUnavailable()
    if (why !== undefined) throw new Error(`the hive benchmark needs network namespaces (root, iproute2): ${why}`)
    const sizes: HiveSizeData[] = []
    const skipped: number[] = []
    for (const n of ctx.hiveSizes) {
      // A size needs about 1.2 s a node to start its members on 2 cores, a few seconds more to
      // form, and what comes after formation.
      if (ctx.deadline - performance.now() < 8000 + 1200 * n + reserveMs(ctx.quick)) { skipped.push(n); ctx.log(`  ${n} nodes: SKIPPED, the run's time budget is used up`); continue }
      sizes.push(await measureHive(n, ctx))
    }
    return { rows: hiveRows(sizes, skipped), data: { sizes, skipped, offline_after_default_s: OFFLINE_AFTER_DEFAULT_MS / 1000 } }
  }
}
