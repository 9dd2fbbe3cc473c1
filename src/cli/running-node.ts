import type { Command } from 'commander'
import { localAdminAccess, type LocalAdminAccess } from '../local-admin.ts'
import { StartupError } from '../shared/errors.ts'
import { configFromCommand } from './config-flags.ts'

/** Local operator access to the node running on the command's data dir; `what` says why a running node is needed. */
export async function runningNode (cmd: Command, what: string): Promise<LocalAdminAccess> {
  const { config } = configFromCommand(cmd)
  const a = await localAdminAccess(config.dataDir)
  if (a === undefined) throw new StartupError('not_running', `no running node holds ${config.dataDir}; ${what}`)
  return a
}
