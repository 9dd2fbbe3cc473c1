// 6. Start-up: time from spawning `edge-hive serve` to /readyz answering 200, on a first start
// (empty data dir: keys, certificate, operator client and database are made) and on a restart
// of the same node (same data dir, same port). The default store (embedded SurrealKV in the
// data dir) so that a restart reopens it.
import { freePort } from '../test/helpers/cli.ts'
import { BenchNode, Cleanup, request, sleep, type StartOptions } from './lib/node.ts'
import { fmt, type Benchmark, type Row } from './lib/context.ts'

export interface StartupData {
  first_ms: number[]
  restart_ms: number[]
  /** The same starts, to the node's own `node ready` log line. */
  first_ready_line_ms: number[]
  restart_ready_line_ms: number[]
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
    const data: StartupData = { first_ms: [], restart_ms: [], first_ready_line_ms: [], restart_ready_line_ms: [] }
    try {
      for (let i = 0; i < ctx.startups; i++) {
        const dataDir = cleanup.tempDir()
        const port = await freePort()
        const o: StartOptions = { dataDir, args: ['--host', '127.0.0.1', '--port', String(port), '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--metrics-port', '0'] }
        const first = await timeToReady(o, port, cleanup)
        await first.node.stop()
        const again = await timeToReady(o, port, cleanup)
        await again.node.stop()
        data.first_ms.push(first.readyz)
        data.restart_ms.push(again.readyz)
        data.first_ready_line_ms.push(first.line)
        data.restart_ready_line_ms.push(again.line)
        ctx.log(`  run ${i + 1}: first start ${first.readyz.toFixed(0)} ms, restart ${again.readyz.toFixed(0)} ms (ready line ${first.line.toFixed(0)} / ${again.line.toFixed(0)} ms)`)
      }
      const of = ctx.startups > 1 ? `median of ${ctx.startups}` : '1 run'
      const rows: Row[] = [
        { section: 6, benchmark: `start-up to /readyz 200, first start (${of})`, result: fmt.s(median(data.first_ms)) },
        { section: 6, benchmark: `start-up to /readyz 200, restart (${of})`, result: fmt.s(median(data.restart_ms)), ratio: `restart/first ${fmt.ratio(median(data.restart_ms), median(data.first_ms))}` }
      ]
      return { rows, data }
    } finally {
      await cleanup.run()
    }
  }
}
