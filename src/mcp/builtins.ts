import { z } from 'zod'
import type { AuditEntry, AuditLog } from '../store/index.ts'
import type { NodeInfo } from '../shared/node-info.ts'
import { isScope, SCOPES } from '../auth/scopes.ts'
import type { Catalog, Caller } from './catalog.ts'
import type { PeerView } from '../shared/peer-view.ts'

export type { PeerView }

export interface BuiltinComponents {
  info (): NodeInfo
  listeningUrls (): string[]
  peers (): PeerView[]
  audit: AuditLog
  /** Creates an OAuth client on this node; returns its id and, unless dry, its secret. */
  provisionClient (input: { name: string, scopes: string[], agentType?: string | undefined }, actor: string): Promise<{ clientId: string, secret?: string | undefined }>
}

export const LOGS_LATEST_URI = 'edge-hive://logs/latest'
export const NODE_INFO_URI = 'edge-hive://node/info'
const LOG_LINES = 1000
const DATE = /^\d{4}-\d{2}-\d{2}$/

export function logUriFor (date: Date): string {
  return `edge-hive://logs/${date.toISOString().slice(0, 10)}`
}

function jsonLines (entries: AuditEntry[]): string {
  return entries.map((e) => JSON.stringify({ ...e, at: e.at.toISOString() })).join('\n') + (entries.length > 0 ? '\n' : '')
}

const statusOutput = z.object({
  node_id: z.string(),
  name: z.string(),
  version: z.string(),
  uptime_seconds: z.number(),
  load: z.object({ cpu: z.number(), memory: z.number() }),
  listening: z.array(z.string()),
  peers: z.object({ total: z.number(), online: z.number(), members: z.number() })
})

/** The node's own tools and resources: get_status, list_peers, provision_node, node info and logs. */
export function registerBuiltins (catalog: Catalog, c: BuiltinComponents): void {
  catalog.tool({
    name: 'get_status',
    title: 'Node status',
    description: 'Status of this Edge Hive node: id, name, version, uptime, CPU and memory load, listening addresses, peer counts.',
    outputSchema: statusOutput,
    handler: async () => {
      const info = c.info()
      const peers = c.peers()
      const status = {
        node_id: info.node_id, name: info.name, version: info.version, uptime_seconds: info.uptime, load: info.load,
        listening: c.listeningUrls(), peers: { total: peers.length, online: peers.filter((p) => p.status === 'online').length, members: peers.filter((p) => p.member).length }
      }
      return { content: [{ type: 'text', text: JSON.stringify(status) }], structuredContent: status }
    }
  })

  catalog.tool({
    name: 'list_peers',
    title: 'Hive peers',
    description: 'The peers this node knows in its hive, with status (online, offline, untrusted) and trust score.',
    outputSchema: z.object({
      peers: z.array(z.object({
        peer_id: z.string(), node_id: z.string().optional(), status: z.string(), member: z.boolean(), trust: z.number(), addresses: z.array(z.string()),
        first_seen: z.string(), last_seen: z.string(), capabilities: z.record(z.string(), z.unknown()).optional()
      }))
    }),
    handler: async () => {
      const peers = c.peers()
      return { content: [{ type: 'text', text: JSON.stringify({ peers }) }], structuredContent: { peers } }
    }
  })

  catalog.tool({
    name: 'provision_node',
    title: 'Provision access for an agent',
    description: 'Creates an OAuth client on this node for another agent, with a name, a subset of your own scopes and an optional agent type; returns its client id and secret once. dry_run shows what would be created.',
    scope: 'mcp:admin',
    inputSchema: z.object({
      name: z.string().min(1).max(100),
      scopes: z.array(z.string()).min(1).max(4),
      agent_type: z.string().regex(/^[\w.+-]{1,64}$/).optional(),
      node_id: z.string().max(100).optional().describe('The node to provision on; this node when absent.'),
      dry_run: z.boolean().optional()
    }),
    handler: async (args, ctx) => {
      const a = args as { name: string, scopes: string[], agent_type?: string, node_id?: string, dry_run?: boolean }
      const text = (s: string): { isError: true, content: Array<{ type: 'text', text: string }> } => ({ isError: true, content: [{ type: 'text', text: s }] })
      if (a.node_id !== undefined && a.node_id !== catalog.node.nodeId) return text(`Unknown node ${a.node_id}; only this node (${catalog.node.nodeId}) can be provisioned for now.`)
      const unknown = a.scopes.filter((s) => !isScope(s))
      if (unknown.length > 0) return text(`Unknown scope ${unknown.join(', ')}; scopes are ${SCOPES.join(', ')}.`)
      const beyond = a.scopes.filter((s) => !ctx.caller.scopes.includes(s))
      if (beyond.length > 0) return text(`You cannot grant ${beyond.join(', ')}: a client gets at most the scopes of the one provisioning it.`)
      const plan = { node_id: catalog.node.nodeId, name: a.name, scopes: a.scopes, agent_type: a.agent_type ?? null }
      if (a.dry_run === true) return { content: [{ type: 'text', text: JSON.stringify({ dry_run: true, would_create: plan }) }], structuredContent: { dry_run: true, would_create: plan } }
      const made = await c.provisionClient({ name: a.name, scopes: a.scopes, agentType: a.agent_type }, ctx.caller.clientId)
      await ctx.log('notice', `provisioned client ${made.clientId} (${a.name})`)
      const result = { ...plan, client_id: made.clientId, client_secret: made.secret ?? null, token_endpoint: c.info().authentication.token_endpoint }
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result }
    }
  })

  catalog.resource({
    name: 'node-info',
    uri: NODE_INFO_URI,
    description: 'The node\'s info document (its capability advertisement).',
    mimeType: 'application/json',
    read: async () => ({ text: JSON.stringify(c.info()) })
  })

  catalog.resource({
    name: 'logs-latest',
    uri: LOGS_LATEST_URI,
    description: `The newest ${LOG_LINES} entries of the node's audit and activity log, newest first, as JSON lines.`,
    mimeType: 'application/jsonl',
    read: async () => ({ text: jsonLines(await c.audit.list({ limit: LOG_LINES })) })
  })

  catalog.resourceTemplate({
    name: 'logs',
    uriTemplate: 'edge-hive://logs/{date}',
    description: 'The node\'s audit and activity log for one day (UTC, YYYY-MM-DD), newest first, as JSON lines.',
    mimeType: 'application/jsonl',
    list: async () => {
      const days = Array.from({ length: 7 }, (_v, i) => new Date(Date.now() - i * 86_400_000))
      return days.map((d) => ({ uri: logUriFor(d), name: `log ${d.toISOString().slice(0, 10)}` }))
    },
    read: async (_uri, vars) => {
      const date = vars.date ?? ''
      if (!DATE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) throw new Error(`${date} is not a date (YYYY-MM-DD)`)
      const since = new Date(`${date}T00:00:00Z`)
      const until = new Date(since.getTime() + 86_400_000)
      return { text: jsonLines(await c.audit.list({ limit: LOG_LINES, since, until })) }
    }
  })
}

export type { Caller }
