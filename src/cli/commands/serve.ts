import type { Command } from 'commander'
import * as nodeModule from 'node:module'
import { messageOf } from '../../shared/errors.ts'
import type { NodeSummary } from '../../node.ts'
import type { Logger } from '../../shared/logger.ts'
import { VERSION } from '../../shared/version.ts'
import { addSettingFlags, configFromCommand } from '../config-flags.ts'
import { EXIT_FAILURE, EXIT_OK, reportFatal } from '../exit.ts'
import { dataDirLayout, writeFileAtomic } from '../../config/index.ts'

/** The few lines a person sees when the node is up. */
export function formatBanner (s: NodeSummary, version: string): string {
  const rows: Array<[string, string]> = [
    ['node', `${s.name} (${s.nodeId})`],
    ['peer id', s.peerId],
    ['https', s.baseUrl],
    ['mcp', s.mcpUrl],
    ['tls sha-256', s.fingerprint ?? 'none: plain HTTP (--insecure-http)'],
    ['p2p', s.p2pAddrs.length > 0 ? s.p2pAddrs.join('\n' + ' '.repeat(15)) : 'off (--no-p2p)'],
    ['metrics', s.metricsUrl ?? 'off (--no-metrics)'],
    ['console', s.consoleUrl ?? 'off (--no-console)'],
    ['data dir', s.dataDir]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return [`Edge Hive ${version} is up`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), ''].join('\n')
}

/** The first start's operator credentials, with the command that uses them and where they are kept. */
export function formatFirstClient (s: NodeSummary, clientId: string, clientSecret: string, file: string): string {
  return [
    '',
    'First start: an operator client with every scope was created:',
    `  client id      ${clientId}`,
    `  client secret  ${clientSecret}`,
    `Both are also in ${file} (readable by you only); delete it once the secret is kept elsewhere.`,
    'Get a token with:',
    `  curl --cacert ${s.dataDir}/tls/cert.pem -u '${clientId}:${clientSecret}' -d grant_type=client_credentials ${s.issuer}/oauth/token`,
    ''
  ].join('\n')
}

/**
 * Says the node is up: the banner to a person at a terminal, the same facts as one `node ready`
 * line to a log collector, and on the first start the operator client's secret, in a file only.
 */
export function announce (summary: NodeSummary, logger: Logger, tty: boolean): void {
  if (tty) process.stdout.write(formatBanner(summary, VERSION))
  if (summary.firstClient !== undefined) {
    const { clientId, clientSecret } = summary.firstClient
    // Kept in a file only this user reads, also at a terminal: a banner scrolls away, and
    // the secret is never written to the log.
    const file = dataDirLayout(summary.dataDir).operatorClient
    writeFileAtomic(file, JSON.stringify({ client_id: clientId, client_secret: clientSecret, token_endpoint: `${summary.issuer}/oauth/token` }, null, 2) + '\n', 0o600)
    if (tty) process.stdout.write(formatFirstClient(summary, clientId, clientSecret, file))
    else logger.info({ file, client_id: clientId }, 'created the operator client; its secret is in this file (mode 0600)')
  }
  logger[tty ? 'debug' : 'info']({
    node_id: summary.nodeId, peer_id: summary.peerId, node_name: summary.name, url: summary.baseUrl,
    local_url: summary.localUrl, mcp_url: summary.mcpUrl, tls_fingerprint: summary.fingerprint ?? null, p2p_addrs: summary.p2pAddrs,
    metrics_url: summary.metricsUrl ?? null, console_url: summary.consoleUrl ?? null
  }, 'node ready')
}

export function registerServe (program: Command): void {
  const cmd = program.command('serve')
    .description('run a node: HTTPS API and MCP endpoint, state in the data dir')
  addSettingFlags(cmd)
  cmd.action(async () => {
    // Configuration problems exit 2 before anything is bound or written.
    const { config } = configFromCommand(cmd)
    // The node's modules load only now: `edge-hive --help` and the other commands do not need them.
    const [{ EdgeNode }, { createLogger }] = await Promise.all([import('../../node.ts'), import('../../shared/logger.ts')])
    const logger = createLogger(config.logLevel)
    const node = new EdgeNode(config, logger)

    // A peer's stream closing at the wrong moment can make libp2p's muxer throw outside any
    // call of ours (seen with yamux window updates on a closed stream). That is one stream
    // lost, not a reason to drop every agent and peer: log it and go on. Anything else
    // thrown outside a request is a bug, and stops the node as before.
    const onStray = (err: unknown): void => {
      const name = (err as { name?: string } | undefined)?.name ?? ''
      if (/^Stream(State|Reset|Closed|Aborted)Error$|^(Muxer|Connection)ClosedError$/.test(name)) {
        logger.warn({ err: { name, message: messageOf(err) } }, 'a libp2p stream failed after it closed; the node goes on')
        return
      }
      logger.fatal({ err }, 'unexpected error outside any request; stopping')
      process.exit(EXIT_FAILURE)
    }
    process.on('uncaughtException', onStray)
    process.on('unhandledRejection', onStray)

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
      // Stopped by a signal while starting: the signal's handler exits once all is closed.
      if (stopping) return
      process.exit(reportFatal(err))
    }
    announce(summary, logger, process.stdout.isTTY === true)
    // Node writes the compile cache when the process exits; a node that is killed never exits
    // cleanly, so what loading it compiled is written now (see main.ts).
    nodeModule.flushCompileCache?.()
  })
}
