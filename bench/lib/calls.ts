// Sections 1-3 measured together: the node, the SDK reference server and the raw node:https
// server run side by side, and their rows are interleaved (node, reference, raw for each mode
// and number of clients), so that a change in the machine's load during the run hits all
// three alike and the ratios stay fair. Which servers run follows the benchmarks selected.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BenchNode, Cleanup, UNTHROTTLED, loopbackArgs, operatorToken } from './node.ts'
import { callBody, callHeaders, checkCall, closeSessions, measureCall, MODES, openSessions, verifyCall, type McpRow, type McpTarget } from './mcp-calls.ts'
import { load, type LoadResult } from './load.ts'
import { selfSignedCert, startServer } from './servers.ts'
import type { BenchContext } from './context.ts'

export interface CallsData {
  node: McpRow[]
  reference: McpRow[] | undefined
  raw: LoadResult[] | undefined
  /** The node's stateless answer to one call: the raw server's fixed response. */
  sample_response: string
  token_scope: string
  token_length: number
  node_flags: string[]
}

const line = (who: string, r: LoadResult & { mode?: string }): string =>
  `  ${who.padEnd(9)} ${(r.mode ?? '').padEnd(9)} c=${String(r.connections).padEnd(3)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}  server ${r.serverCpuUsPerReq?.toFixed(0) ?? '?'} µs CPU/req`

async function measureAll (ctx: BenchContext): Promise<CallsData> {
  const withRef = ctx.selected.has('reference')
  const withRaw = ctx.selected.has('raw')
  const cleanup = new Cleanup()
  try {
    const dataDir = cleanup.tempDir()
    const args = loopbackArgs(UNTHROTTLED)
    const nodeFlags = ctx.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`]
    const node = await BenchNode.start({ dataDir, args, nodeFlags })
    // A graceful stop, so that --cpu-prof writes its profile.
    cleanup.add(async () => await node.stop())
    const token = await operatorToken(node.url, dataDir)
    const sample = await checkCall(node.ready.mcp_url, token, 'stateless')
    ctx.log(`  node ${node.ready.node_id} at ${node.url} (pid ${node.pid})`)
    const nodeTarget: McpTarget = { mcpUrl: node.ready.mcp_url, token, pid: node.pid }

    let refTarget: McpTarget | undefined
    let rawUrl: string | undefined
    let rawPid = 0
    if (withRef || withRaw) {
      const dir = cleanup.tempDir()
      const { cert, key } = await selfSignedCert(dir)
      if (withRef) {
        const ref = await startServer('reference-server', [cert, key], cleanup)
        refTarget = { mcpUrl: `https://127.0.0.1:${ref.port}/mcp`, token: undefined, pid: ref.pid }
        ctx.log(`  reference server at ${refTarget.mcpUrl} (pid ${ref.pid})`)
      }
      if (withRaw) {
        const bodyFile = join(dir, 'response.json')
        writeFileSync(bodyFile, sample)
        const raw = await startServer('raw-server', [cert, key, bodyFile], cleanup)
        rawUrl = `https://127.0.0.1:${raw.port}/mcp`
        rawPid = raw.pid
        ctx.log(`  raw server at ${rawUrl} (pid ${raw.pid})`)
      }
    }

    const out: CallsData = {
      node: [], reference: refTarget === undefined ? undefined : [], raw: rawUrl === undefined ? undefined : [],
      sample_response: sample, token_scope: 'mcp:read mcp:call', token_length: token.length, node_flags: args
    }
    const most = Math.max(...ctx.concurrency)
    for (const mode of MODES) {
      const nodeSessions = await openSessions(nodeTarget, mode, most)
      const refSessions = refTarget === undefined ? [] : await openSessions(refTarget, mode, most)
      try {
        for (const c of ctx.concurrency) {
          const n = await measureCall(nodeTarget, mode, c, nodeSessions, ctx.timing)
          ctx.log(line('node', n))
          out.node.push(n)
          if (refTarget !== undefined) {
            const r = await measureCall(refTarget, mode, c, refSessions, ctx.timing)
            ctx.log(line('reference', r))
            out.reference!.push(r)
          }
          if (rawUrl !== undefined && mode === 'stateless') {
            // The stateless request, byte for byte (a Bearer header of the same length included).
            const r = await load({
              url: rawUrl, method: 'POST', headers: callHeaders('stateless', 'x'.repeat(token.length)), body: callBody('stateless'),
              uniqueIds: true, connections: c, ...ctx.timing, verify: verifyCall, serverPid: rawPid
            })
            ctx.log(line('raw', r))
            out.raw!.push(r)
          }
        }
      } finally {
        await closeSessions(nodeTarget, nodeSessions)
        if (refTarget !== undefined) await closeSessions(refTarget, refSessions)
      }
    }
    return out
  } finally {
    await cleanup.run()
  }
}

/** The interleaved measurement, made once per run by whichever of mcp, reference, raw runs first. */
export async function calls (ctx: BenchContext): Promise<CallsData> {
  let p = ctx.results.get('calls') as Promise<CallsData> | undefined
  if (p === undefined) {
    p = measureAll(ctx)
    ctx.results.set('calls', p)
  }
  return await p
}
