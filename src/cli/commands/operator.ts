import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import type { Command } from 'commander'
import { localAdminAccess, openOfflineState } from '../../local-admin.ts'
import { UsageError } from '../../shared/errors.ts'
import { cliName } from '../../shared/cli-name.ts'
import { nodeDataDir } from '../../config/index.ts'
import { addSettingFlags, configFromCommand } from '../config-flags.ts'
import { callNode } from '../admin-api.ts'
import { runningNode } from '../running-node.ts'

/** Reads a line from a terminal without showing it. */
async function askHidden (question: string): Promise<string> {
  let muted = false
  const output = new Writable({ write: (chunk, _enc, cb) => { if (!muted) process.stderr.write(chunk); cb() } })
  const rl = createInterface({ input: process.stdin, output, terminal: true })
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => { process.stderr.write('\n'); resolve(answer) })
      muted = true
    })
  } finally {
    rl.close()
  }
}

/** The new password: asked twice at a terminal, else the first line of standard input. */
async function readPassword (): Promise<string> {
  if (process.stdin.isTTY === true) {
    const first = await askHidden('New operator password (12 characters or more): ')
    const again = await askHidden('Again: ')
    if (first !== again) throw new UsageError('password_mismatch', 'the two passwords differ; nothing was changed')
    return first
  }
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

interface GrantView { grant_id: string, client_id: string, client_name: string, scopes: string[], created_at: string, expires_at?: string }

export function registerOperator (program: Command): void {
  const operator = program.command('operator').description('the operator account that signs in to approve people\'s apps')
  const setPassword = operator.command('set-password')
    .description('set the operator password (asked twice at a terminal, else read from standard input)')
  addSettingFlags(setPassword, ['dataDir', 'store'])
  setPassword.action(async () => {
    // The data dir first: no password is asked for only to be told the node is not there.
    const { config } = configFromCommand(setPassword)
    nodeDataDir(config.dataDir, `${cliName()} serve`)
    const password = await readPassword()
    const { checkPassword } = await import('../../auth/operator-account.ts')
    try { checkPassword(password) } catch (err) { throw new UsageError('password', (err as Error).message) }
    const access = await localAdminAccess(config.dataDir)
    if (access !== undefined) {
      await callNode(access, 'POST', '/admin/operator/password', { password })
    } else {
      const state = await openOfflineState(config)
      try { await state.operator.setPassword(password) } finally { await state.close() }
    }
    process.stdout.write('operator password set; sign in with it to the console (/console) and the pages that approve apps\n')
  })

  const grants = program.command('grants').description('the apps the operator approved (authorization code and device flows)')
  const list = grants.command('list').description('list the approvals with their scopes').option('--json', 'print JSON')
  addSettingFlags(list, ['dataDir'])
  list.action(async () => {
    const r = await callNode<{ grants: GrantView[] }>(await runningNode(list, 'approvals are read from a running node'), 'GET', '/admin/grants')
    if (list.opts().json === true) { process.stdout.write(JSON.stringify(r) + '\n'); return }
    process.stdout.write(r.grants.length === 0
      ? 'no approvals\n'
      : r.grants.map((g) => `${g.grant_id}  ${g.client_name} (${g.client_id})  [${g.scopes.join(' ')}]  since ${g.created_at}`).join('\n') + '\n')
  })
  const revoke = grants.command('revoke').description('withdraw an approval: the app\'s tokens stop working at once').argument('<grant_id>')
  addSettingFlags(revoke, ['dataDir'])
  revoke.action(async () => {
    const id = revoke.args[0]!
    await callNode(await runningNode(revoke, 'approvals are withdrawn through a running node'), 'DELETE', `/admin/grants/${encodeURIComponent(id)}`)
    process.stdout.write(`revoked ${id}\n`)
  })
}
