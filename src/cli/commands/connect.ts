import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { homedir, hostname, platform } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { dataDirLayout, readLock, writeFileAtomic } from '../../config/index.ts'
import { UsageError, messageOf } from '../../shared/errors.ts'
import { cliName } from '../../shared/cli-name.ts'
import { addSettingFlags, configFromCommand } from '../config-flags.ts'
import { registryOf } from './clients.ts'
import { callNode } from '../admin-api.ts'
import { localAdminAccess } from '../../local-admin.ts'

/**
 * The bridge the generated configurations run: it speaks stdio to the app and Streamable HTTP to
 * the node, and gets its own tokens with client credentials, so the configuration keeps working
 * after the first token expires. Pinned: a configuration must not change under its user (the
 * test runs this very version, a devDependency).
 */
export const MCP_REMOTE = 'mcp-remote@0.15.1'
/** The environment variable that carries the client secret into the bridge (never its command line). */
const SECRET_ENV = 'EDGE_HIVE_CLIENT_SECRET'
const APPS = ['claude', 'vscode', 'cursor', 'inspector'] as const
type App = typeof APPS[number]

interface Launch { command: string, args: string[], env: Record<string, string> }

/** The stdio command that connects an app to the node as `clientId`. */
function bridge (mcpUrl: string, clientId: string, secret: string, ca: string | undefined): Launch {
  return {
    command: 'npx',
    args: ['-y', MCP_REMOTE, mcpUrl, '--client-credentials', '--static-oauth-client-info', JSON.stringify({ client_id: clientId, client_secret: `\${${SECRET_ENV}}` })],
    env: { [SECRET_ENV]: secret, ...(ca === undefined ? {} : { NODE_EXTRA_CA_CERTS: ca }) }
  }
}

/** Where each app keeps its MCP servers, and under which key. */
function target (app: App): { file: string, key: 'mcpServers' | 'servers' } {
  const home = homedir()
  if (app === 'vscode') return { file: resolve('.vscode', 'mcp.json'), key: 'servers' }
  if (app === 'cursor') return { file: join(home, '.cursor', 'mcp.json'), key: 'mcpServers' }
  if (app === 'inspector') return { file: resolve('edge-hive.mcp.json'), key: 'mcpServers' }
  const base = platform() === 'darwin' ? join(home, 'Library', 'Application Support') : platform() === 'win32' ? (process.env.APPDATA ?? join(home, 'AppData', 'Roaming')) : join(home, '.config')
  return { file: join(base, 'Claude', 'claude_desktop_config.json'), key: 'mcpServers' }
}

/** The app's configuration file with this server set (others kept as they were). */
function configWith (app: App, existing: Record<string, unknown>, name: string, launch: Launch): Record<string, unknown> {
  const { key } = target(app)
  const entry = app === 'vscode' ? { type: 'stdio', ...launch } : launch
  const servers = (existing[key] !== null && typeof existing[key] === 'object' ? existing[key] : {}) as Record<string, unknown>
  return { ...existing, [key]: { ...servers, [name]: entry } }
}

function readConfig (file: string): Record<string, unknown> {
  if (!existsSync(file)) return {}
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as unknown
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) return doc as Record<string, unknown>
  } catch (err) {
    throw new UsageError('app_config', `${file} is not valid JSON (${messageOf(err)}); fix or move it, then run this again`)
  }
  throw new UsageError('app_config', `${file} does not hold a JSON object; fix or move it, then run this again`)
}

export function registerConnect (program: Command): void {
  const cmd = program.command('connect')
    .description('connect an MCP app to this node: registers a client for it and prints (or writes) the app\'s configuration, which gets fresh tokens by itself')
    .argument('<app>', `one of ${APPS.join(', ')}`)
    .option('--client <name>', 'name of the client registered for the app (default: "<app> on <this machine>")')
    .option('--scopes <scopes>', 'what the app may do, space- or comma-separated', 'mcp:read mcp:call mcp:resources')
    .option('--write', 'write the configuration into the app\'s own file (kept: the app\'s other servers) instead of printing it')
  addSettingFlags(cmd, ['dataDir', 'store'])
  cmd.action(async () => {
    const app = cmd.args[0] as App
    if (!(APPS as readonly string[]).includes(app)) throw new UsageError('app', `${String(app)} is not an app this knows; give one of ${APPS.join(', ')}`)
    const o = cmd.opts<{ client?: string, scopes: string, write?: boolean }>()
    const { config } = configFromCommand(cmd)
    const layout = dataDirLayout(config.dataDir)
    const lock = readLock(layout)
    const mcpUrl = lock?.resource ?? `${config.publicUrl}/mcp`
    const ca = config.insecureHttp ? undefined : resolve(config.tlsCert ?? layout.tlsCert)
    const { file } = target(app)
    // Before anything is registered: a file that cannot be written into is said first.
    const existing = o.write === true ? readConfig(file) : {}
    // Named after the node (its own name when it runs: the one it was started with).
    const access = await localAdminAccess(config.dataDir)
    const nodeName = access === undefined ? config.nodeName : (await callNode<{ name: string }>(access, 'GET', '/mcp/node/info')).name
    const name = `edge-hive-${nodeName}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64)
    const registry = await registryOf(config, access)
    let added
    try {
      added = await registry.add({ name: o.client ?? `${app} on ${hostname()}`.slice(0, 64), scopes: o.scopes.split(/[\s,]+/).filter((s) => s !== '') })
    } finally {
      await registry.close()
    }
    const launch = bridge(mcpUrl, added.client.client_id, added.secret!, ca)
    if (o.write === true) {
      mkdirSync(dirname(file), { recursive: true })
      // The file holds the client secret: readable by this user only.
      writeFileAtomic(file, JSON.stringify(configWith(app, existing, name, launch), null, 2) + '\n', 0o600)
      process.stdout.write(`registered client ${added.client.client_id} for ${app}; wrote server "${name}" into ${file}\n` +
        (app === 'vscode' ? 'the file holds the client secret: keep it out of version control (add .vscode/mcp.json to .gitignore)\n' : '') +
        (app === 'inspector' ? inspectorHint(file, name) : `restart ${app === 'claude' ? 'Claude Desktop' : app === 'vscode' ? 'the MCP server in VS Code' : 'Cursor'} to use it\n`))
      return
    }
    process.stdout.write(`registered client ${added.client.client_id} for ${app} (the secret is in the configuration below; ${cliName()} clients revoke ${added.client.client_id} ends it)\n` +
      `put this into ${file}:\n${JSON.stringify(configWith(app, {}, name, launch), null, 2)}\n` + (app === 'inspector' ? inspectorHint(file, name) : ''))
  })
}

function inspectorHint (file: string, name: string): string {
  return `open it in the MCP Inspector:  npx @modelcontextprotocol/inspector --config ${file} --server ${name}\n` +
    `or without a browser:          npx @modelcontextprotocol/inspector --cli --config ${file} --server ${name} --method tools/list\n`
}
