// 3. Raw limit: a bare node:https server that answers the node's own get_status response to
// the same request without parsing anything (bench/servers/raw-server.ts), interleaved with
// the node's rows (bench/lib/calls.ts).
import { calls } from './lib/calls.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'

export const raw: Benchmark = {
  name: 'raw',
  section: 3,
  title: 'raw limit: bare node:https, fixed answer',
  needs: ['mcp'],
  async run (ctx) {
    const d = await calls(ctx)
    const out = (d.raw ?? []).map((r) => {
      const of = (mode: string): number | null => {
        const n = d.node.find((x) => x.mode === mode && x.connections === r.connections)
        return n === undefined ? null : n.rps / r.rps
      }
      return { ...r, node_session_over_raw_rps: of('session'), node_stateless_over_raw_rps: of('stateless') }
    })
    const rows: Row[] = out.map((r) => ({
      section: 3, benchmark: 'raw node:https, same request and answer', clients: r.connections,
      result: `${fmt.rate(r.rps)} req/s`, p50: r.p50, p99: r.p99, errors: r.errors, cpuUs: r.serverCpuUsPerReq,
      ratio: `node/raw ${r.node_session_over_raw_rps?.toFixed(2) ?? 'n/a'} (session), ${r.node_stateless_over_raw_rps?.toFixed(2) ?? 'n/a'} (stateless) (req/s)`
    }))
    return { rows, data: { rows: out, sample_response: d.sample_response } }
  }
}
