// 1. MCP tool call throughput: tools/call get_status over HTTPS with a valid JWT, in the
// 2025-11-25 session era and the 2026-07-28 stateless era, at each number of concurrent clients.
// (Measured in bench/lib/calls.ts, interleaved with sections 2 and 3.)
import { calls } from './lib/calls.ts'
import { MODE_VERSION, type McpRow } from './lib/mcp-calls.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'

export function mcpLabel (mode: McpRow['mode']): string {
  return `${MODE_VERSION[mode]} ${mode}`
}

export const mcp: Benchmark = {
  name: 'mcp',
  section: 1,
  title: 'MCP tools/call get_status, node (HTTPS + JWT)',
  async run (ctx) {
    const d = await calls(ctx)
    const rows: Row[] = d.node.map((r) => ({
      section: 1, benchmark: `node, ${mcpLabel(r.mode)}`, clients: r.connections,
      result: `${fmt.rate(r.rps)} req/s`, p50: r.p50, p99: r.p99, errors: r.errors, cpuUs: r.serverCpuUsPerReq
    }))
    return { rows, data: { rows: d.node, token_scope: d.token_scope, node_flags: d.node_flags } }
  }
}
