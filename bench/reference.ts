// 2. Reference: the same calls against a minimal server built from the official SDK alone
// (bench/servers/reference-server.ts: one equivalent tool, no auth), same machine, same run,
// interleaved with the node's rows (bench/lib/calls.ts).
import { calls } from './lib/calls.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'
import { mcpLabel } from './mcp.ts'

export const reference: Benchmark = {
  name: 'reference',
  section: 2,
  title: 'the same calls, official SDK server (HTTPS, no auth)',
  needs: ['mcp'],
  async run (ctx) {
    const d = await calls(ctx)
    const out = (d.reference ?? []).map((r) => {
      const n = d.node.find((x) => x.mode === r.mode && x.connections === r.connections)
      const cpu = n?.serverCpuUsPerReq == null || r.serverCpuUsPerReq == null ? null : n.serverCpuUsPerReq / r.serverCpuUsPerReq
      return { ...r, node_over_reference_rps: n === undefined ? null : n.rps / r.rps, node_over_reference_cpu_per_req: cpu }
    })
    const rows: Row[] = out.map((r) => ({
      section: 2, benchmark: `reference, ${mcpLabel(r.mode)}`, clients: r.connections,
      result: `${fmt.rate(r.rps)} req/s`, p50: r.p50, p99: r.p99, errors: r.errors, cpuUs: r.serverCpuUsPerReq,
      ratio: r.node_over_reference_rps === null ? '' : `node/ref ${r.node_over_reference_rps.toFixed(2)} (req/s); CPU/req ${r.node_over_reference_cpu_per_req?.toFixed(2) ?? 'n/a'}×`
    }))
    return { rows, data: { rows: out } }
  }
}
