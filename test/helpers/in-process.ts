import { Writable } from 'node:stream'
import { Command } from 'commander'
import { EdgeNode } from '../../src/node.ts'
import { createLogger } from '../../src/shared/logger.ts'
import { addSettingFlags, configFromCommand } from '../../src/cli/config-flags.ts'
import { announce } from '../../src/cli/commands/serve.ts'
import { cleanEnv, lines, readyLineOf, type ReadyLine } from '../../scripts/lib/node-process.ts'
import { TEST_NODE_ARGS, tempDir } from './cli.ts'

/**
 * A node run inside the test's own process, for tests where the process boundary is not what
 * is tested: it starts in a fraction of a second where a spawned CLI loads its whole bundle.
 * The flags go through the same settings table, the same `EdgeNode` and the same announcement
 * (ready line, operator-client file) as `edge-hive serve`; what it logs is kept as the CLI's
 * stdout would be. Tests of signals, exit codes, the banner or a second process stay with
 * `NodeProcess`, and so do nodes with libp2p peers: `serve` logs and survives a libp2p stream
 * error thrown outside any request, which in a test process fails the file. Its store is `mem://` unless the test names another: the embedded engine does
 * not open one SurrealKV directory twice in a process.
 */
export class InProcessNode {
  readonly dataDir: string
  ready!: ReadyLine
  /** Every JSON log line the node wrote so far. */
  readonly logs: Array<Record<string, unknown>> = []
  stdout = ''
  #node?: EdgeNode

  private constructor (dataDir: string) {
    this.dataDir = dataDir
  }

  /** Starts a node with `serve`'s flags (`args`) and environment (`env`, cleaned by default). */
  static async start (options: { dataDir?: string, args?: string[], env?: Record<string, string>, timeoutMs?: number } = {}): Promise<InProcessNode> {
    const self = new InProcessNode(options.dataDir ?? tempDir())
    const cmd = addSettingFlags(new Command('serve')).exitOverride()
    cmd.parse(['--data-dir', self.dataDir, ...TEST_NODE_ARGS, ...(options.args ?? [])], { from: 'user' })
    const { config } = configFromCommand(cmd, options.env ?? cleanEnv())
    const onLine = lines((line) => {
      try { self.logs.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a JSON line */ }
      const ready = readyLineOf(line)
      if (ready !== undefined) self.ready ??= ready
    })
    const out = new Writable({
      write (chunk: Buffer | string, _enc, done) {
        self.stdout += chunk.toString()
        onLine(chunk)
        done()
      }
    })
    const logger = createLogger(config.logLevel, { pretty: false, destination: out })
    const edge = self.#node = new EdgeNode(config, logger)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`node did not become ready; last log lines: ${self.stdout.slice(-2000)}`)), options.timeoutMs ?? 20_000)
    })
    try {
      announce(await Promise.race([edge.start(), late]), logger, false)
    } catch (err) {
      // A stop waits for a start under way; one that hangs must not hang the test too.
      await Promise.race([edge.stop().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000).unref())])
      throw err
    } finally {
      clearTimeout(timer)
    }
    return self
  }

  get url (): string {
    return this.ready.local_url
  }

  /** Stops as SIGTERM would: in-flight requests finish, the store closes, the data dir is free. */
  async stop (): Promise<void> {
    await this.#node?.stop()
  }

  /** For `after` hooks: the same graceful stop (a node in this process cannot be killed alone). */
  async kill (): Promise<void> {
    await this.#node?.stop()
  }
}
