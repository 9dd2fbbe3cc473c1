import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanEnv, diesWithParent, lines, readyLineOf, type ReadyLine } from '../../scripts/lib/node-process.ts'
import type { InProcessNode } from './in-process.ts'

/** The built CLI, as `npm ci` leaves it and as the package's `bin` names it. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export { cleanEnv, diesWithParent, HAS_PARENT_DEATH_SIGNAL, type ReadyLine } from '../../scripts/lib/node-process.ts'

export function tempDir (prefix = 'edge-hive-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function removeDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/** Every file below `dir`, as bytes (to look for secrets in a copy of the store). */
export function filesUnder (dir: string): Buffer[] {
  const out: Buffer[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...filesUnder(p))
    else out.push(readFileSync(p))
  }
  return out
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the CLI to completion. */
export function runCli (args: string[], options: { env?: Record<string, string>, timeoutMs?: number, cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const { cmd, args: argv } = diesWithParent([process.execPath, CLI, ...args])
    const child = spawn(cmd, argv, { env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`edge-hive ${args.join(' ')} did not finish; stderr: ${stderr}`)) }, options.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

/** Runs `edge-hive operator set-password` as the operator does: the password on standard input, never on the command line. */
export function runSetPassword (dataDir: string, password: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const { cmd, args } = diesWithParent([process.execPath, CLI, 'operator', 'set-password', '--data-dir', dataDir])
    const child = spawn(cmd, args, { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end(`${password}\n`)
  })
}

/** Sets the operator password through the CLI and fails the test if it could not. */
export async function setOperatorPassword (dataDir: string, password: string): Promise<void> {
  const r = await runSetPassword(dataDir, password)
  if (r.code !== 0) throw new Error(`operator set-password failed (${r.code}): ${r.stderr}${r.stdout}`)
}

/** Loopback only, free ports, the in-memory store: every test node starts with these before its own flags. */
export const TEST_NODE_ARGS = ['--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--store', 'mem://', '--p2p-listen', '/ip4/127.0.0.1/tcp/0']

/** What a test sees of a running node, spawned (NodeProcess) or in this process (InProcessNode). */
export interface TestNode {
  readonly dataDir: string
  readonly ready: ReadyLine
  readonly url: string
  /** Every JSON log line the node wrote so far. */
  readonly logs: Array<Record<string, unknown>>
  readonly stdout: string
}

/** The node's TLS certificate, for clients that trust exactly it. */
export const caOf = (node: Pick<TestNode, 'dataDir'>): string => readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')

/** A node started as a child process of the real CLI. */
export class NodeProcess {
  readonly child: ChildProcess
  readonly dataDir: string
  ready!: ReadyLine
  /** Every JSON log line the node wrote so far. */
  readonly logs: Array<Record<string, unknown>> = []
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>

  private constructor (child: ChildProcess, dataDir: string) {
    this.child = child
    this.dataDir = dataDir
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  }

  /**
   * Starts `edge-hive serve` on a free loopback port (`--port 0`) and waits for its ready line.
   * Rejects with the node's stderr when it exits first.
   */
  static async start (
    options: { dataDir?: string, args?: string[], env?: Record<string, string>, timeoutMs?: number, wrap?: (argv: string[]) => { cmd: string, args: string[] } } = {}
  ): Promise<NodeProcess> {
    const dataDir = options.dataDir ?? tempDir()
    // Loopback only, free ports: tests never listen on the machine's other interfaces.
    const args = ['serve', '--data-dir', dataDir, ...TEST_NODE_ARGS, ...(options.args ?? [])]
    // `wrap` runs the node elsewhere, e.g. inside a test network namespace.
    const argv = [process.execPath, CLI, ...args]
    const wrapped = options.wrap?.(argv)
    const { cmd, args: cmdArgs } = diesWithParent(wrapped === undefined ? argv : [wrapped.cmd, ...wrapped.args])
    const child = spawn(cmd, cmdArgs, { env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    const node = new NodeProcess(child, dataDir)
    await new Promise<void>((resolve, reject) => {
      // A node that is not ready in time is killed: no fleet knows it yet, so nothing else would.
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`node did not become ready; stderr: ${node.stderr.slice(-2000)}; last log lines: ${node.stdout.slice(-2000)}`))
      }, options.timeoutMs ?? 20_000)
      const onLine = lines((line) => {
        try { node.logs.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a JSON line */ }
        const ready = readyLineOf(line)
        if (ready !== undefined) { clearTimeout(timer); node.ready = ready; resolve() }
      })
      child.stdout!.on('data', (d: Buffer) => {
        node.stdout += d.toString()
        onLine(d)
      })
      child.stderr!.on('data', (d: Buffer) => { node.stderr += d.toString() })
      child.on('close', (code) => { clearTimeout(timer); reject(new Error(`node exited with ${code} before it was ready; stderr: ${node.stderr}`)) })
    })
    return node
  }

  get url (): string {
    return this.ready.local_url
  }

  /** Sends SIGTERM and waits for the exit. */
  async stop (): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    return await this.exited
  }

  /** Stops if still running; for `after` hooks, so a failed test leaves no process behind. */
  async kill (): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }
}

/** A TCP port free on 127.0.0.1 right now, for tests that must restart a node on the same port. */
export async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/**
 * The nodes and temp dirs one test file makes, so that they are all gone afterwards, also when
 * a test fails: `const fleet = new Fleet(); after(() => fleet.cleanup())`.
 */
export class Fleet {
  readonly #nodes: Array<{ kill: () => Promise<void> }> = []
  readonly #dirs: string[] = []

  // The data dir is made (and kept for cleanup) before the start, so a node that fails to start
  // leaves none behind.
  async start (options: Parameters<typeof NodeProcess.start>[0] = {}): Promise<NodeProcess> {
    const n = await NodeProcess.start({ ...options, dataDir: options.dataDir ?? this.tempDir() })
    this.#nodes.push(n)
    return n
  }

  /**
   * Starts a node inside this test process (see InProcessNode), for tests where the process
   * boundary is not what is tested. Loaded on first use, so files that only spawn nodes do not
   * load the node's modules.
   */
  async startInProcess (options: Parameters<typeof InProcessNode.start>[0] = {}): Promise<InProcessNode> {
    const { InProcessNode } = await import('./in-process.ts')
    const n = await InProcessNode.start({ ...options, dataDir: options.dataDir ?? this.tempDir() })
    this.#nodes.push(n)
    return n
  }

  tempDir (): string {
    const d = tempDir()
    this.#dirs.push(d)
    return d
  }

  async cleanup (): Promise<void> {
    for (const n of this.#nodes) await n.kill()
    for (const d of this.#dirs) removeDir(d)
  }
}
