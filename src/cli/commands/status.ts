import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { dataDirLayout, readLock } from '../../config/index.ts'
import { messageOf } from '../../shared/errors.ts'
import type { NodeInfo } from '../../shared/node-info.ts'
import { addSettingFlags, configFromCommand } from '../config-flags.ts'
import { pinnedGet } from '../pinned-request.ts'
import { EXIT_FAILURE, EXIT_OK } from '../exit.ts'

const TIMEOUT_MS = 5_000

export interface StatusReport {
  healthy: boolean
  /** `ready`, `not_ready` (answers but cannot serve), `unreachable`, `not_running`. */
  status: 'ready' | 'not_ready' | 'unreachable' | 'not_running'
  reason?: string
  data_dir: string
  pid?: number
  url?: string
  node?: Pick<NodeInfo, 'node_id' | 'peer_id' | 'name' | 'version' | 'uptime'>
}

/** Asks the node that holds `dataDir` how it is, over its own HTTPS API. */
export async function checkStatus (dataDir: string): Promise<StatusReport> {
  const layout = dataDirLayout(dataDir)
  const lock = readLock(layout)
  if (lock === undefined) {
    const reason = existsSync(layout.identityKey) ? `no running node holds ${dataDir}` : `${dataDir} holds no node (no identity.key): is --data-dir right?`
    return { healthy: false, status: 'not_running', reason, data_dir: dataDir }
  }
  const base = { data_dir: dataDir, pid: lock.pid, ...(lock.localUrl === undefined ? {} : { url: lock.localUrl }) }
  if (lock.localUrl === undefined) {
    return { ...base, healthy: false, status: 'not_ready', reason: 'the node is starting and not listening yet' }
  }
  try {
    const ready = await pinnedGet(`${lock.localUrl}/readyz`, lock.fingerprint, TIMEOUT_MS)
    if (ready.status !== 200) {
      return { ...base, healthy: false, status: 'not_ready', reason: `/readyz answered ${ready.status}` }
    }
    const info = await pinnedGet(`${lock.localUrl}/mcp/node/info`, lock.fingerprint, TIMEOUT_MS)
    const doc = JSON.parse(info.body) as NodeInfo
    return {
      ...base, healthy: true, status: 'ready',
      node: { node_id: doc.node_id, peer_id: doc.peer_id, name: doc.name, version: doc.version, uptime: doc.uptime }
    }
  } catch (err) {
    return { ...base, healthy: false, status: 'unreachable', reason: messageOf(err) }
  }
}

function human (r: StatusReport): string {
  if (r.healthy && r.node !== undefined) {
    return `ready: ${r.node.name} (${r.node.node_id}) at ${r.url}, version ${r.node.version}, up ${r.node.uptime}s, pid ${r.pid}\n`
  }
  return `${r.status.replace('_', ' ')}: ${r.reason}\n`
}

export function registerStatus (program: Command): void {
  const cmd = program.command('status')
    .description('check the node that owns a data dir (exit 0 healthy, 1 unhealthy or not running)')
    .option('--json', 'print a JSON report')
  addSettingFlags(cmd, ['dataDir'])
  cmd.action(async () => {
    const { config } = configFromCommand(cmd)
    const report = await checkStatus(config.dataDir)
    process.stdout.write(cmd.opts().json === true ? `${JSON.stringify(report)}\n` : human(report))
    process.exitCode = report.healthy ? EXIT_OK : EXIT_FAILURE
  })
}
