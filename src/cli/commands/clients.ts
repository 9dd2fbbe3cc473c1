import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { localAdminAccess, openOfflineState, type ClientView, type LocalAdminAccess, type NewClient } from '../../local-admin.ts'
import type { Config } from '../../config/index.ts'
import { UsageError, messageOf } from '../../shared/errors.ts'
import { addSettingFlags, configFromCommand } from '../config-flags.ts'
import { callNode } from '../admin-api.ts'

/** The client registry, reached through the running node or, when it is stopped, its store. */
interface Registry {
  add (c: NewClient): Promise<{ client: ClientView, secret?: string }>
  list (): Promise<ClientView[]>
  get (id: string): Promise<ClientView>
  revoke (id: string): Promise<ClientView>
  rotateSecret (id: string): Promise<{ client: ClientView, secret: string }>
  close (): Promise<void>
}

async function remote (access: LocalAdminAccess): Promise<Registry> {
  const call = async <T>(method: string, path: string, json?: unknown): Promise<T> => await callNode<T>(access, method, path, json)
  return {
    add: async (c) => {
      const r = await call<{ client: ClientView, client_secret?: string }>('POST', '/admin/clients', {
        name: c.name, scopes: c.scopes, agent_type: c.agentType, agent_version: c.agentVersion, jwks: c.jwks
      })
      return r.client_secret === undefined ? { client: r.client } : { client: r.client, secret: r.client_secret }
    },
    list: async () => (await call<{ clients: ClientView[] }>('GET', '/admin/clients')).clients,
    get: async (id) => (await call<{ client: ClientView }>('GET', `/admin/clients/${encodeURIComponent(id)}`)).client,
    revoke: async (id) => (await call<{ client: ClientView }>('POST', `/admin/clients/${encodeURIComponent(id)}/revoke`)).client,
    rotateSecret: async (id) => {
      const r = await call<{ client: ClientView, client_secret: string }>('POST', `/admin/clients/${encodeURIComponent(id)}/rotate-secret`)
      return { client: r.client, secret: r.client_secret }
    },
    close: async () => undefined
  }
}

async function openRegistry (cmd: Command): Promise<Registry> {
  const { config } = configFromCommand(cmd)
  return await registryOf(config, await localAdminAccess(config.dataDir))
}

/** The registry of the node on `config`'s data dir: through the node when it runs (`access`), else its store. */
export async function registryOf (config: Config, access: LocalAdminAccess | undefined): Promise<Registry> {
  if (access !== undefined) return await remote(access)
  const state = await openOfflineState(config)
  const actor = 'operator'
  return {
    add: async (c) => await state.registry.add(c, actor),
    list: async () => await state.registry.list(),
    get: async (id) => await state.registry.get(id),
    revoke: async (id) => await state.registry.revoke(id, actor),
    rotateSecret: async (id) => await state.registry.rotateSecret(id, actor),
    close: async () => await state.close()
  }
}

function readJwks (file: string): NewClient['jwks'] {
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new UsageError('jwks_file', `cannot read --jwks-file ${file}: ${messageOf(err)}`)
  }
  // A single JWK or a JWK Set.
  const keys = Array.isArray((doc as { keys?: unknown }).keys) ? (doc as { keys: unknown[] }).keys : [doc]
  return { keys: keys as Array<Record<string, unknown>> }
}

function line (c: ClientView): string {
  const agent = c.agent_type === undefined ? '' : `  agent ${c.agent_type}${c.agent_version === undefined ? '' : `/${c.agent_version}`}`
  const itself = c.registered_by === 'itself' ? '  (registered itself)' : ''
  return `${c.client_id}  ${c.status.padEnd(7)}  ${c.name}  [${c.scopes.join(' ')}]  ${c.auth_method}${agent}${itself}`
}

function details (c: ClientView): string {
  return Object.entries(c).map(([k, v]) => `  ${k.padEnd(17)} ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('\n') + '\n'
}

/** Runs one subcommand: opens the registry, prints, closes, exits explicitly (the embedded store may linger). */
function action (cmd: Command, run: (r: Registry, json: boolean) => Promise<string>): () => Promise<void> {
  return async () => {
    const r = await openRegistry(cmd)
    try {
      process.stdout.write(await run(r, cmd.optsWithGlobals().json === true))
    } finally {
      await r.close()
    }
  }
}

export function registerClients (program: Command): void {
  const clients = program.command('clients').description('manage the OAuth clients of a node (agents, and the apps that registered themselves), running or stopped')
  const sub = (name: string, description: string): Command => {
    const c = clients.command(name).description(description).option('--json', 'print JSON')
    addSettingFlags(c, ['dataDir', 'store'])
    return c
  }

  const add = sub('add', 'register a client; prints its id and, for secret clients, the secret once')
    .requiredOption('--name <name>', 'a name people recognise')
    .requiredOption('--scopes <scopes>', 'space- or comma-separated: mcp:read mcp:call mcp:resources mcp:admin')
    .option('--agent-type <type>', 'e.g. claude, gpt, jules')
    .option('--agent-version <version>', 'the agent\'s version')
    .option('--jwks-file <file>', 'public key(s) as JWK or JWK Set: the client uses private_key_jwt instead of a secret')
  add.action(action(add, async (r, json) => {
    const o = add.opts<{ name: string, scopes: string, agentType?: string, agentVersion?: string, jwksFile?: string }>()
    const { client, secret } = await r.add({
      name: o.name,
      scopes: o.scopes.split(/[\s,]+/).filter((s) => s !== ''),
      agentType: o.agentType,
      agentVersion: o.agentVersion,
      jwks: o.jwksFile === undefined ? undefined : readJwks(o.jwksFile)
    })
    if (json) return JSON.stringify(secret === undefined ? { client } : { client, client_secret: secret }) + '\n'
    return `added ${line(client)}\n` + (secret === undefined ? '' : `client secret (shown only now): ${secret}\n`)
  }))

  const list = sub('list', 'list every client: the operator\'s, then the apps that registered themselves')
  list.action(action(list, async (r, json) => {
    const all = await r.list()
    if (json) return JSON.stringify({ clients: all }) + '\n'
    return all.length === 0 ? 'no clients\n' : all.map(line).join('\n') + '\n'
  }))

  const show = sub('show', 'show one client').argument('<client-id>')
  show.action(action(show, async (r, json) => {
    const c = await r.get(show.args[0]!)
    return json ? JSON.stringify({ client: c }) + '\n' : details(c)
  }))

  const revoke = sub('revoke', 'revoke any client (also an app that registered itself): no new tokens, its grants end, its live tokens stop working').argument('<client-id>')
  revoke.action(action(revoke, async (r, json) => {
    const c = await r.revoke(revoke.args[0]!)
    return json ? JSON.stringify({ client: c }) + '\n' : `revoked ${line(c)}\n`
  }))

  const rotate = sub('rotate-secret', 'give a client a new secret; the old one stops working').argument('<client-id>')
  rotate.action(action(rotate, async (r, json) => {
    const { client, secret } = await r.rotateSecret(rotate.args[0]!)
    return json ? JSON.stringify({ client, client_secret: secret }) + '\n' : `new secret for ${client.client_id} (shown only now): ${secret}\n`
  }))
}
