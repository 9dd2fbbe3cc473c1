import type { FastifyInstance } from 'fastify'
import type { Config } from './config/index.ts'
import type { AuditFeed } from './store/index.ts'
import {
  Catalog, McpEndpoint, EndpointQuotas, SERVED_PROTOCOL_VERSIONS, registerBuiltins, scopesForBody, logUriFor, loadPlugins, catalogSource, LOGS_LATEST_URI,
  type BuiltinComponents, type HiveView, type McpTracer, type NotificationStream, type PeerView, type TokenEnd
} from './mcp/index.ts'
import { registerMcpRoute, registerServerCardRoutes, type CardedEndpoint, type Forwarder } from './http/index.ts'
import { hiveView, type HivePart } from './node-hive.ts'
import type { NodeMetrics } from './shared/metrics.ts'
import type { LoadMeter } from './shared/load.ts'
import type { Logger } from './shared/logger.ts'
import { VERSION } from './shared/version.ts'

/** The MCP endpoint's path: also the OAuth protected resource (RFC 8707 audience of every token). */
export const MCP_PATH = '/mcp'

type WatchToken = (token: string, onEnd: (why: TokenEnd) => void) => () => void

/** What the MCP part needs from the rest of the node. */
export interface McpPartDeps {
  config: Config
  nodeId: string
  audit: AuditFeed
  metrics: NodeMetrics
  notifications: NotificationStream
  load: LoadMeter
  logger: Logger
  info (): unknown
  publicUrl (): string
  resource (): string
  peers (): PeerView[]
  hivePart (): HivePart | undefined
  provisionClient: BuiltinComponents['provisionClient']
  watchToken: WatchToken
}

/** The node's MCP offering: its catalog, its endpoint (without --no-mcp), and the hive view (with the hive on too). */
export interface McpPart {
  catalog: Catalog
  mcp: McpEndpoint | undefined
  hiveView: HiveView | undefined
  hiveMcp: McpEndpoint | undefined
  close (): Promise<void>
}

/**
 * Builds the catalog (built-in tools, plugins), wires the audit log to notifications, resource
 * updates and metrics, and makes the MCP endpoints.
 */
export async function createMcpPart (d: McpPartDeps): Promise<McpPart> {
  const c = d.config
  const catalog = new Catalog({ nodeId: d.nodeId, name: c.nodeName })
  registerBuiltins(catalog, { info: d.info as BuiltinComponents['info'], listeningUrls: () => [d.publicUrl()], peers: d.peers, audit: d.audit, provisionClient: d.provisionClient })
  const plugins = await loadPlugins(c.plugins, catalog)
  if (plugins.length > 0) d.logger.info({ plugins }, 'plugins loaded')
  let mcp: McpEndpoint | undefined
  d.audit.on('appended', (entry: { action: string, detail?: Record<string, unknown> }) => {
    if (entry.action === 'token.issued') d.metrics.tokenIssued(String(entry.detail?.grant_type ?? 'unknown'))
    if (entry.action === 'token.refused') {
      // A summary of repeated refusals (see RefusalAudit) counts each one it sums.
      const summed = entry.detail?.errors as Record<string, number> | undefined
      if (summed === undefined) d.metrics.tokenRefused(String(entry.detail?.error ?? 'unknown').slice(0, 64))
      else for (const [error, n] of Object.entries(summed)) d.metrics.tokenRefused(error.slice(0, 64), n)
    }
  })
  catalog.on('called', (call: { name: string, outcome: 'ok' | 'error' }) => { d.metrics.toolCall(call.name, call.outcome) })
  // Everything audited is a log notification, and changes the log resources, for MCP
  // subscribers (when MCP is on) and on the REST stream (always).
  d.audit.on('appended', (entry: Record<string, unknown> & { at: Date }) => {
    d.notifications.publish('log', { ...entry, at: entry.at.toISOString() })
    for (const uri of [LOGS_LATEST_URI, logUriFor(entry.at)]) {
      mcp?.resourceUpdated(uri)
      d.notifications.publish('resource_updated', { uri })
    }
  })
  const part: McpPart = { catalog, mcp: undefined, hiveView: undefined, hiveMcp: undefined, close: async () => undefined }
  if (!c.mcpEnabled) return part
  const options = {
    info: { name: 'edge-hive', version: VERSION },
    sessionIdleMs: c.mcpSessionIdle,
    maxSessions: c.mcpMaxSessions,
    maxSessionsPerClient: c.mcpMaxSessionsPerClient,
    maxStreams: c.maxStreams,
    maxStreamsPerClient: c.maxStreamsPerClient,
    maxRequestBodySize: c.bodyLimit
  }
  // One set of places for /mcp and the hive view: the limits are the node's, not each endpoint's.
  const quotas = new EndpointQuotas(options)
  const own = mcp = new McpEndpoint(catalogSource(options.info, catalog), { ...options, quotas }, d.logger, d.watchToken)
  part.mcp = own
  if (c.p2pEnabled) {
    part.hiveView = hiveView({ catalog, load: d.load, part: d.hivePart, mcp: async (req, body, authInfo) => await own.handle(req, body, authInfo), mcpUrl: d.resource })
    part.hiveMcp = new McpEndpoint(part.hiveView, { ...options, quotas }, d.logger, d.watchToken)
  }
  part.close = async () => {
    await part.mcp?.close()
    await part.hiveMcp?.close()
    part.hiveView?.close()
  }
  return part
}

/** `/mcp` (and each member's endpoint under it) and the hive view `/mcp/hive`. */
export async function registerMcpEndpoints (app: FastifyInstance, part: McpPart, d: {
  config: Config
  nodeId: string
  publicUrl (): string
  resource (): string
  resourceMetadataUrl (): string
  watchToken: WatchToken
  forward: Forwarder | undefined
  tracer: McpTracer | undefined
}): Promise<void> {
  const c = d.config
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(c.host)
  const front = {
    bodyLimit: c.bodyLimit,
    publicUrl: d.publicUrl,
    resource: d.resource,
    resourceMetadataUrl: d.resourceMetadataUrl,
    corsOrigins: c.corsOrigins,
    // DNS rebinding protection: a node on loopback answers only to loopback names (and its public URL's).
    allowedHosts: loopback ? ['127.0.0.1', 'localhost', '[::1]', new URL(d.publicUrl()).hostname] : undefined,
    nodeId: d.nodeId
  }
  const cards: CardedEndpoint[] = []
  if (part.mcp !== undefined) {
    cards.push({ path: MCP_PATH, name: d.nodeId, title: `Edge Hive node ${c.nodeName}`, description: 'Tools and resources of this Edge Hive node, and of its hive\'s members through it.' })
    const mcp = part.mcp
    await registerMcpRoute(app, {
      handle: async (req, body, authInfo) => await mcp.handle(req, body, authInfo),
      requiredScopes: (body) => scopesForBody(body, part.catalog),
      watchToken: d.watchToken,
      forward: d.forward,
      tracer: d.tracer
    }, {
      ...front,
      path: MCP_PATH,
      memberRoutes: true,
      summary: 'The MCP endpoint (Streamable HTTP, protocol 2025-11-25 with sessions and 2026-07-28 stateless)',
      description: 'JSON-RPC over POST (Accept: application/json, text/event-stream), the GET SSE stream and DELETE of a session, as the MCP specification defines them. Each method needs its scope: tools/call mcp:call, resources mcp:resources, the rest mcp:read.'
    })
  }
  if (part.hiveMcp !== undefined && part.hiveView !== undefined) {
    cards.push({
      path: `${MCP_PATH}/hive`,
      name: `${d.nodeId}-hive`,
      title: `Edge Hive hive view at ${c.nodeName}`,
      description: 'The tools of every member of the hive in one MCP endpoint, through this node.'
    })
    const view = part.hiveMcp
    const scopes = part.hiveView
    await registerMcpRoute(app, {
      handle: async (req, body, authInfo) => await view.handle(req, body, authInfo),
      requiredScopes: (body) => scopesForBody(body, scopes),
      watchToken: d.watchToken,
      forward: undefined,
      tracer: d.tracer
    }, {
      ...front,
      path: `${MCP_PATH}/hive`,
      memberRoutes: false,
      summary: 'The hive view: one MCP endpoint with the tools of every member of the hive',
      description: 'The same protocol as /mcp. tools/list names each member\'s tools <member node id>__<tool> (stable as members come and go), plus hive_members to find members by tool, status and load (mcp:read); tools/call needs mcp:call here and runs on the member under its own policy (--hive-scopes).'
    })
  }
  if (cards.length > 0) registerServerCardRoutes(app, { endpoints: cards, publicUrl: d.publicUrl, version: VERSION, protocolVersions: SERVED_PROTOCOL_VERSIONS })
}
