// The bench's side of bench/servers/hive-monitor.ts: that process runs on a host of its own in
// the hive's namespace network and polls the nodes' peer tables; this one sends it watches and
// reads its answers (JSON lines).
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { TestNetwork, TestHost } from '../../test/hive/netns.ts'
import { cleanEnv } from '../lib/node.ts'

const MONITOR = fileURLToPath(new URL('../servers/hive-monitor.ts', import.meta.url))

/** A node the monitor polls: its peer id, HTTPS URL on the bridge and data dir (certificate, operator client). */
export interface Target { peer_id: string, url: string, data_dir: string }

/** What a watch waits for: see bench/servers/hive-monitor.ts. */
export type Watch =
  | { expect: 'online', nodes: Target[] }
  | { expect: 'online', target: string, min_seq: number, nodes: Target[] }
  | { expect: 'offline' | 'removed', target: string, nodes: Target[] }

/** Which nodes had not seen it when the time ran out, and what each saw last (peer id -> peer id -> view). */
export interface TimeoutDetail { pending: string[], of: number, views: Record<string, Record<string, string>> }
export type WatchResult = { ok: true, at: number } | { ok: false, at: number, detail: TimeoutDetail }
interface MonitorEvent { event: string, at?: number, detail?: TimeoutDetail, done?: number, of?: number, message?: string }

/** A peer's view when all is well: online, a member, with its capabilities advert. */
export const GOOD = 'online:member:advert'

const PROGRESS: Record<Watch['expect'], string> = { online: 'online', offline: 'offline', removed: 'no longer a member' }

export class Monitor {
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

  /** Sends a watch and waits for its answer (progress lines are logged). One watch at a time. */
  async watch (w: Watch & { interval_ms: number, timeout_ms: number }, log: (s: string) => void): Promise<WatchResult> {
    this.child.stdin!.write(JSON.stringify({ cmd: 'watch', ...w }) + '\n')
    const what = 'target' in w ? `it ${PROGRESS[w.expect]}` : 'all others online'
    for (;;) {
      const e = await this.next()
      if (e.event === 'progress') { log(`    ${e.done}/${e.of} nodes see ${what}`); continue }
      if (e.event === 'started') continue
      if (e.event === w.expect && typeof e.at === 'number') return { ok: true, at: e.at }
      if (e.event === 'timeout' && typeof e.at === 'number' && e.detail !== undefined) return { ok: false, at: e.at, detail: e.detail }
      throw new Error(`hive monitor: ${JSON.stringify(e)}`)
    }
  }

  stop (): void {
    this.child.stdin!.end()
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
