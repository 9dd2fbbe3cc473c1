// Starting and talking to edge-hive nodes from the benchmarks: the built CLI as a child process,
// client-credentials tokens, one-off HTTPS requests. The environment and the ready line are
// shared with the tests and `npm run hive` (scripts/lib/node-process.ts); the rest is the
// benchmarks' own, so that a benchmark run does not change when the tests' helpers do.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { cleanEnv as sharedCleanEnv, diesWithParent, lines, readyLineOf, type ReadyLine } from '../../scripts/lib/node-process.ts'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The built CLI (`npm run build`), as the package's `bin` names it. */
export const CLI = join(ROOT, 'dist', 'cli', 'main.js')

export const execFileP = promisify(execFile)
export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** The environment a benchmark gives its nodes: the tests' own, and no NODE_OPTIONS of the shell's (a profiler, a debugger). */
export function cleanEnv (extra: Record<string, string> = {}): Record<string, string> {
  return sharedCleanEnv(extra, ['NODE_OPTIONS'])
}

/**
 * Everything a benchmark starts (processes, temp dirs, namespaces), undone in reverse order at
 * the end of the benchmark, and also when it fails or the run is interrupted.
 */
export class Cleanup {
  /** Every Cleanup not yet run, for an interrupted run (see `cleanupAll`). */
  static readonly active = new Set<Cleanup>()
  readonly #undo: Array<() => Promise<void> | void> = []

  constructor () {
    Cleanup.active.add(this)
  }

  add (fn: () => Promise<void> | void): void {
    this.#undo.push(fn)
  }

  tempDir (prefix = 'edge-hive-bench-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    this.add(() => rmSync(dir, { recursive: true, force: true }))
    return dir
  }

  async run (): Promise<void> {
    Cleanup.active.delete(this)
    for (const fn of this.#undo.splice(0).reverse()) {
      try { await fn() } catch (err) { process.stderr.write(`cleanup: ${(err as Error).message}\n`) }
    }
  }
}

export type { ReadyLine }

export interface StartOptions {
  dataDir: string
  /** Flags after `serve --data-dir D`. */
  args: string[]
  env?: Record<string, string>
  /** Node.js flags before the CLI path, e.g. `--cpu-prof`. */
  nodeFlags?: string[]
  /** Runs the command elsewhere, e.g. inside a network namespace (`ip netns exec` execs it: same pid). */
  wrap?: (argv: string[]) => { cmd: string, args: string[] }
  timeoutMs?: number
  /** Copies the node's whole stdout (its JSON log) to this file, for looking into a run. */
  logFile?: string
}

/** A node started from the built CLI. */
export class BenchNode {
  readonly child: ChildProcess
  readonly dataDir: string
  /** When the process was spawned (performance.now()). */
  readonly spawnedAt: number
  ready!: ReadyLine
  /** When the ready line arrived (performance.now()). */
  readyAt = 0
  stderr = ''
  readonly exited: Promise<void>

  private constructor (child: ChildProcess, dataDir: string, spawnedAt: number) {
    this.child = child
    this.dataDir = dataDir
    this.spawnedAt = spawnedAt
    this.exited = new Promise((resolve) => child.once('close', () => resolve()))
  }

  get pid (): number {
    return this.child.pid!
  }

  get url (): string {
    return this.ready.local_url
  }

  /** Spawns the node; does not wait (see `whenReady`). */
  static spawn (o: StartOptions): { node: BenchNode, whenReady: Promise<BenchNode> } {
    const argv = [process.execPath, ...(o.nodeFlags ?? []), CLI, 'serve', '--data-dir', o.dataDir, ...o.args]
    const wrapped = o.wrap?.(argv)
    const { cmd, args } = diesWithParent(wrapped === undefined ? argv : [wrapped.cmd, ...wrapped.args])
    const spawnedAt = performance.now()
    const child = spawn(cmd, args, { env: o.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    const node = new BenchNode(child, o.dataDir, spawnedAt)
    if (o.logFile !== undefined) child.stdout!.pipe(createWriteStream(o.logFile))
    const whenReady = new Promise<BenchNode>((resolve, reject) => {
      let done = false
      const timer = setTimeout(() => { if (!done) { done = true; reject(new Error(`node did not become ready in time; stderr: ${node.stderr.slice(-2000)}`)) } }, o.timeoutMs ?? 60_000)
      const onLine = lines((line) => {
        const ready = done ? undefined : readyLineOf(line)
        if (ready === undefined) return
        node.readyAt = performance.now()
        node.ready = ready
        done = true
        clearTimeout(timer)
        resolve(node)
      })
      // Later log lines are not needed: read them (the pipe must not fill) and drop them.
      child.stdout!.on('data', (d: Buffer) => { if (!done) onLine(d) })
      child.stdout!.resume()
      child.stderr!.on('data', (d: Buffer) => { if (node.stderr.length < 100_000) node.stderr += d.toString() })
      child.once('close', (code, signal) => {
        if (!done) { done = true; clearTimeout(timer); reject(new Error(`node exited (${code ?? signal}) before it was ready; stderr: ${node.stderr.slice(-2000)}`)) }
      })
    })
    whenReady.catch(() => undefined)
    return { node, whenReady }
  }

  static async start (o: StartOptions): Promise<BenchNode> {
    return await BenchNode.spawn(o).whenReady
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  async stop (graceMs = 15_000): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => { if (this.running) this.child.kill('SIGKILL') }, graceMs)
    await this.exited
    clearTimeout(timer)
  }

  async kill (): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGKILL')
    await this.exited
  }
}

/**
 * The rate limits stay on (their cost is part of every request) but high enough that a load
 * test measures serving rather than 429s: the defaults allow 1200 API and 100 token requests
 * a minute per caller. Likewise the sessions one client may hold (20 by default, the least
 * recently used making room for a new one): the load's 50 clients share one OAuth client.
 */
export const UNTHROTTLED = ['--api-rate-limit', '1000000', '--token-rate-limit', '100000', '--rate-limit-window', '1s', '--mcp-max-sessions-per-client', '100']

/** Flags every benchmarked node gets outside the hive benchmark: loopback only, free ports. */
export function loopbackArgs (extra: string[] = []): string[] {
  return ['--host', '127.0.0.1', '--port', '0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--metrics-port', '0', ...extra]
}

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One HTTPS/1.1 request on a fresh connection, trusting exactly `ca` when given. */
export async function request (url: string, o: { method?: string, headers?: Record<string, string>, body?: string, ca?: string, timeoutMs?: number } = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: o.method ?? 'GET',
      headers: o.headers,
      agent: false,
      timeout: o.timeoutMs ?? 10_000,
      ...(o.ca === undefined ? { rejectUnauthorized: false } : { ca: o.ca, checkServerIdentity: () => undefined })
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)))
    req.on('error', reject)
    req.end(o.body)
  })
}

export function operatorClient (dataDir: string): { client_id: string, client_secret: string } {
  return JSON.parse(readFileSync(join(dataDir, 'operator-client.json'), 'utf8')) as { client_id: string, client_secret: string }
}

export function basicAuth (clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`
}

/** The token request of an MCP client that reads and calls tools (client credentials, HTTP Basic). */
export const TOKEN_FORM = new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:read mcp:call' }).toString()

/** A client-credentials access token from the node's token endpoint, for its operator client. */
export async function operatorToken (url: string, dataDir: string, form = TOKEN_FORM): Promise<string> {
  const op = operatorClient(dataDir)
  const res = await request(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(op.client_id, op.client_secret) },
    body: form
  })
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.body}`)
  return (JSON.parse(res.body) as { access_token: string }).access_token
}

/** The certificate a node serves (self-signed on first start). */
export function nodeCert (dataDir: string): string {
  return readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8')
}

/** Sum of user and system CPU time of a process so far, in ms (Linux /proc). */
export function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15)
  return ticks * 10 // USER_HZ is 100 on Linux
}

/** Resident memory of a process, in bytes (VmRSS). */
export function rssBytes (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
}
