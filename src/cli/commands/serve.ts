import type { Command } from 'commander'
import { EdgeNode, type NodeSummary } from '../../node.ts'
import { createLogger } from '../../shared/logger.ts'
import { VERSION } from '../../shared/version.ts'
import { addSettingFlags, configFromCommand } from '../config-flags.ts'
import { EXIT_FAILURE, EXIT_OK, reportFatal } from '../exit.ts'

/** The few lines a person sees when the node is up. */
export function formatBanner (s: NodeSummary, version: string): string {
  const rows: Array<[string, string]> = [
    ['node', `${s.name} (${s.nodeId})`],
    ['peer id', s.peerId],
    ['https', s.baseUrl],
    ['mcp', s.mcpUrl],
    ['tls sha-256', s.fingerprint ?? 'none: plain HTTP (--insecure-http)'],
    ['data dir', s.dataDir]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return [`Edge Hive ${version} is up`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), ''].join('\n')
}

export function registerServe (program: Command): void {
  const cmd = program.command('serve')
    .description('run a node: HTTPS API and MCP endpoint, state in the data dir')
  addSettingFlags(cmd)
  cmd.action(async () => {
    // Configuration problems exit 2 before anything is bound or written.
    const { config } = configFromCommand(cmd)
    const logger = createLogger(config.logLevel)
    const node = new EdgeNode(config, logger)

    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal means "now": skip the graceful wait.
        logger.warn({ signal }, 'second signal: exiting at once')
        process.exit(EXIT_FAILURE)
      }
      stopping = true
      logger.info({ signal }, 'stopping')
      node.stop().then(() => {
        logger.info('stopped')
        // The embedded store can keep the event loop alive after close: exit explicitly.
        process.exit(EXIT_OK)
      }, (err: unknown) => {
        logger.error({ err }, 'stop failed')
        process.exit(EXIT_FAILURE)
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)

    let summary: NodeSummary
    try {
      summary = await node.start()
    } catch (err) {
      process.exit(reportFatal(err))
    }
    // A person at a terminal gets the banner; a log collector gets the same facts as one line.
    const tty = process.stdout.isTTY === true
    if (tty) process.stdout.write(formatBanner(summary, VERSION))
    logger[tty ? 'debug' : 'info']({
      node_id: summary.nodeId, peer_id: summary.peerId, node_name: summary.name, url: summary.baseUrl,
      local_url: summary.localUrl, mcp_url: summary.mcpUrl, tls_fingerprint: summary.fingerprint ?? null
    }, 'node ready')
  })
}
