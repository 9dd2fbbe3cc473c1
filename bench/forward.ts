// 7. Forwarded tools/call: an agent holding a token of node A calls member B's get_status
// through A (`/mcp/node/<B's node id>/mcp`; A forwards over /edge-hive/forward/1.0.0), against
// the same call made to B directly, in the same run, rows interleaved (direct, then through A,
// for each era and number of clients). A hive of two on loopback (bench/lib/hive-pair.ts).
import { join } from 'node:path'
import { Cleanup, operatorToken } from './lib/node.ts'
import { startHivePair, type HivePair } from './lib/hive-pair.ts'
import { checkCall, closeSessions, measureCall, MODES, openSessions, type McpRow, type McpTarget, type Mode } from './lib/mcp-calls.ts'
import { fmt, type Benchmark, type BenchContext, type BenchOptions, type Row } from './lib/context.ts'
import { mcpLabel } from './mcp.ts'

/**
 * A client may have this many requests open through the hive at once (hiveForwardPerClient's
 * default): more simulated clients of the one agent would measure 429s, so those counts are left out.
 */
const PER_CLIENT = 16
/** From B's start until A forwards to it: joining, proving membership, adverts. */
const JOIN_TIMEOUT_MS = 30_000

/** One era and number of clients: B directly, and B through A. Each figure a number, or null with `note`. */
export interface ForwardRow {
  mode: Mode
  connections: number
  direct: McpRow | null
  forwarded: McpRow | null
  /** Forwarded req/s over direct req/s. */
  rps_ratio: number | null
  /** Latency the hop through A adds, from every answer's own time (ms), and forwarded over direct. */
  added_p50_ms: number | null
  added_p99_ms: number | null
  p50_ratio: number | null
  p99_ratio: number | null
  /** A's CPU time per forwarded call (µs): A checks the token and passes the call on. */
  a_cpu_us_per_call: number | null
  /** A's CPU use while the direct calls ran (its own background work: gossip, heartbeats), % of a core. */
  a_cpu_pct_at_rest: number | null
  /** B's CPU time per call, forwarded and direct (µs). */
  b_cpu_us_per_call_forwarded: number | null
  b_cpu_us_per_call_direct: number | null
  note?: string
}

export interface ForwardData {
  rows: ForwardRow[]
  /** From B's start until its endpoint answered through A (ms), null if it never did. */
  b_joined_ms: number | null
  concurrency: number[]
  concurrency_left_out: number[]
  /** A's CPU profile, with --cpu-prof. */
  cpu_profile: string | null
  note?: string
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => a == null || b == null || b === 0 ? null : a / b

function compare (mode: Mode, c: number, direct: McpRow | null, forwarded: McpRow | null, note?: string): ForwardRow {
  const d = direct?.fineLatencyMs ?? null
  const f = forwarded?.fineLatencyMs ?? null
  return {
    mode,
    connections: c,
    direct,
    forwarded,
    rps_ratio: ratio(forwarded?.rps, direct?.rps),
    added_p50_ms: d === null || f === null ? null : f.p50 - d.p50,
    added_p99_ms: d === null || f === null ? null : f.p99 - d.p99,
    p50_ratio: ratio(f?.p50, d?.p50),
    p99_ratio: ratio(f?.p99, d?.p99),
    a_cpu_us_per_call: forwarded?.serverCpuUsPerReq ?? null,
    a_cpu_pct_at_rest: direct === null || direct.alsoCpuUsPerReq?.a == null ? null : direct.alsoCpuUsPerReq.a * direct.rps / 1e4,
    b_cpu_us_per_call_forwarded: forwarded?.alsoCpuUsPerReq?.b ?? null,
    b_cpu_us_per_call_direct: direct?.serverCpuUsPerReq ?? null,
    ...(note === undefined ? {} : { note })
  }
}

const line = (who: string, r: McpRow): string =>
  `  ${who.padEnd(9)} ${r.mode.padEnd(9)} c=${String(r.connections).padEnd(3)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.fineLatencyMs?.p50.toFixed(2) ?? '?'} ms  p99 ${r.fineLatencyMs?.p99.toFixed(2) ?? '?'} ms  errors ${r.errors}  ` +
  `A ${(who === 'through A' ? r.serverCpuUsPerReq : r.alsoCpuUsPerReq?.a)?.toFixed(0) ?? '?'} µs, B ${(who === 'through A' ? r.alsoCpuUsPerReq?.b : r.serverCpuUsPerReq)?.toFixed(0) ?? '?'} µs CPU/req`

async function measureForward (ctx: BenchContext, concurrency: number[]): Promise<ForwardData> {
  const cleanup = new Cleanup()
  const profName = `forward-node-a-${Date.now()}.cpuprofile`
  const out: ForwardData = { rows: [], b_joined_ms: null, concurrency, concurrency_left_out: ctx.concurrency.filter((c) => !concurrency.includes(c)), cpu_profile: null }
  const notMeasured = (note: string): ForwardRow[] => MODES.flatMap((mode) => concurrency.map((c) => compare(mode, c, null, null, note)))
  try {
    let tokenA: string | undefined
    const viaA = (p: Omit<HivePair, 'joinedMs'>): string => `${p.a.url}/mcp/node/${p.b.ready.node_id}/mcp`
    let pair: HivePair
    try {
      pair = await startHivePair(cleanup, {
        ...(ctx.cpuProfDir === undefined ? {} : { aNodeFlags: ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`, `--cpu-prof-name=${profName}`] }),
        timeoutMs: JOIN_TIMEOUT_MS,
        // B's own get_status, answered through A (B's node id in it: not A answering for B).
        reachable: async (p) => {
          tokenA ??= await operatorToken(p.a.url, p.a.dataDir)
          return (await checkCall(viaA(p), tokenA, 'stateless')).includes(p.b.ready.node_id)
        }
      })
    } catch (err) {
      out.note = `the hive of two did not form: ${(err as Error).message.slice(0, 300)}`
      out.rows = notMeasured(out.note)
      ctx.log(`  ${out.note}`)
      return out
    }
    const { a, b } = pair
    out.b_joined_ms = pair.joinedMs
    if (ctx.cpuProfDir !== undefined) out.cpu_profile = join(ctx.cpuProfDir, profName)
    ctx.log(`  A ${a.ready.node_id} (pid ${a.pid}) forwards to B ${b.ready.node_id} (pid ${b.pid}), reachable through A ${fmt.s(pair.joinedMs)} after B's start`)
    const forwarded: McpTarget = { mcpUrl: viaA(pair), token: tokenA!, pid: a.pid }
    const direct: McpTarget = { mcpUrl: b.ready.mcp_url, token: await operatorToken(b.url, b.dataDir), pid: b.pid }
    const most = Math.max(...concurrency)
    for (const mode of MODES) {
      let directSessions: string[] = []
      let forwardedSessions: string[] = []
      try {
        directSessions = await openSessions(direct, mode, most)
        forwardedSessions = await openSessions(forwarded, mode, most)
        for (const c of concurrency) {
          const d = await measureCall(direct, mode, c, directSessions, ctx.timing, { fineLatency: true, alsoCpuOf: { a: a.pid } })
          ctx.log(line('direct', d))
          const f = await measureCall(forwarded, mode, c, forwardedSessions, ctx.timing, { fineLatency: true, alsoCpuOf: { b: b.pid } })
          ctx.log(line('through A', f))
          out.rows.push(compare(mode, c, d, f))
        }
      } catch (err) {
        const note = `${mode}: ${(err as Error).message.slice(0, 300)}`
        ctx.log(`  FAILED ${note}`)
        for (const c of concurrency) if (!out.rows.some((r) => r.mode === mode && r.connections === c)) out.rows.push(compare(mode, c, null, null, note))
      } finally {
        await closeSessions(direct, directSessions)
        await closeSessions(forwarded, forwardedSessions)
      }
    }
    return out
  } finally {
    await cleanup.run()
  }
}

function rowsOf (d: ForwardData): Row[] {
  const ms = (x: number | undefined): number | undefined => x === undefined ? undefined : round(x)
  const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`
  return d.rows.flatMap((r) => {
    const label = mcpLabel(r.mode)
    if (r.direct === null || r.forwarded === null) {
      return [{ section: 7, benchmark: `member B through node A, ${label}`, clients: r.connections, result: 'n/a', ratio: r.note ?? '' }]
    }
    const fwd = r.forwarded
    const notes = [
      `through/direct ${r.rps_ratio?.toFixed(2) ?? 'n/a'} (req/s)`,
      r.added_p50_ms === null ? 'p50 n/a' : `${signed(r.added_p50_ms)} ms p50 (${r.p50_ratio?.toFixed(2) ?? 'n/a'}×)`,
      r.added_p99_ms === null ? 'p99 n/a' : `${signed(r.added_p99_ms)} ms p99 (${r.p99_ratio?.toFixed(2) ?? 'n/a'}×)`,
      `CPU column: A's; B's ${r.b_cpu_us_per_call_forwarded?.toFixed(0) ?? 'n/a'} µs/call`
    ]
    return [
      {
        section: 7, benchmark: `member B directly, ${label}`, clients: r.connections, result: `${fmt.rate(r.direct.rps)} req/s`,
        p50: ms(r.direct.fineLatencyMs?.p50), p99: ms(r.direct.fineLatencyMs?.p99), errors: r.direct.errors, cpuUs: r.direct.serverCpuUsPerReq,
        ratio: 'CPU column: B\'s'
      },
      {
        section: 7, benchmark: `member B through node A, ${label}`, clients: r.connections, result: `${fmt.rate(fwd.rps)} req/s`,
        p50: ms(fwd.fineLatencyMs?.p50), p99: ms(fwd.fineLatencyMs?.p99), errors: fwd.errors, cpuUs: fwd.serverCpuUsPerReq,
        ratio: notes.join('; ')
      }
    ]
  })
}

/** The numbers of clients measured: those of the run, up to what one client may have open through the hive. */
const concurrencyOf = (o: BenchOptions): number[] => o.concurrency.filter((c) => c <= PER_CLIENT)

export const forward: Benchmark = {
  name: 'forward',
  section: 7,
  title: 'forwarded tools/call: member B\'s get_status through node A (hive of two, loopback) against B directly',
  // Two rows (direct, through A) per era and number of clients, and forming the hive.
  budgetS: (o) => 2 * MODES.length * concurrencyOf(o).length * (o.timing.warmupS + o.timing.durationS) + 20,
  async run (ctx) {
    const concurrency = concurrencyOf(ctx)
    const left = ctx.concurrency.filter((c) => !concurrency.includes(c))
    if (left.length > 0) ctx.log(`  ${left.join(', ')} clients left out: one client may have at most ${PER_CLIENT} requests open through the hive (hiveForwardPerClient)`)
    const data = await measureForward(ctx, concurrency)
    return { rows: rowsOf(data), data }
  }
}
