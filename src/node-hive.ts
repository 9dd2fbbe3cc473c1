import type { Config } from './config/index.ts'
import type { NodeIdentity } from './identity/index.ts'
import type { AuditFeed, Store } from './store/index.ts'
import { P2PHost, Hive, forwardingService, type HiveForwarding, ForwardError, DnsSdAdvertiser, type ServedRequest } from './hive/index.ts'
import { serveHiveCall, HiveView, type Catalog, type HiveMember, type McpTracer, type PeerView, type NotificationStream } from './mcp/index.ts'
import { VERSION } from './shared/version.ts'
import type { AuthInfo } from '@modelcontextprotocol/server'
import type { Logger } from './shared/logger.ts'
import type { LoadMeter } from './shared/load.ts'
import { sha256 } from './shared/hash.ts'
import { printable } from './shared/text.ts'

/** What the hive part needs from the rest of the node. */
export interface HivePartDeps {
  config: Config
  identity: NodeIdentity
  store: Store
  audit: AuditFeed
  notifications: NotificationStream
  catalog: Catalog
  load: LoadMeter
  logger: Logger
  /** The node's MCP endpoint (undefined with --no-mcp). */
  mcp: ((request: Request, parsedBody: unknown, authInfo: AuthInfo) => Promise<Response>) | undefined
  /** The node's info document, which is also its advert. */
  info (): unknown
  mcpUrl (): string
  tracer: McpTracer | undefined
}

/** The node's libp2p host, its hive, and forwarding over the hive, wired together. */
export interface HivePart {
  p2p: P2PHost
  hive: Hive
  forwarding: HiveForwarding
  /** Calls `listener` with the peer id of each member removed from the hive (`*`: this node was removed); returns how to stop. */
  onRemoved (listener: (peerId: string) => void): () => void
  stop (): Promise<void>
}

/**
 * Builds and starts the hive part: the hive's protocols and forwarding start as libp2p services,
 * so their handlers are in place before the host listens (a peer's first stream must not find
 * them missing); then the hive begins (joins its gossip, dials members, joins with the start
 * token). Peer events become notifications and audit entries.
 */
export async function startHivePart (d: HivePartDeps): Promise<HivePart> {
  const c = d.config
  const log = d.logger
  const peerId = d.identity.peerId.toString()
  const nodeId = d.identity.nodeId
  const audit = (action: string, actor: string, target: string, outcome: 'success' | 'failure', detail?: Record<string, unknown>): void => {
    d.audit.append({ actor, action, target, outcome, ...(detail === undefined ? {} : { detail }) }).catch((err: unknown) => log.warn({ err, action }, 'could not audit a hive event'))
  }
  let hive: Hive | undefined
  const made: { forwarding?: HiveForwarding } = {}
  const p2p = new P2PHost({
    privateKey: d.identity.privateKey,
    logger: log,
    isMember: (p) => hive?.isMember(p) ?? false,
    isTrusted: (p) => hive?.directory.isTrusted(p) ?? false,
    wantsPeers: () => hive?.wantsPeers() ?? true,
    wantsBootstrap: () => hive?.wantsBootstrap() ?? true,
    refused: (action, peer, address, reason) => { hive?.refused(action, peer, address, reason) }
  }, {
    listen: c.p2pListen,
    bootstrap: c.bootstrap,
    maxConnections: c.p2pMaxConnections,
    maxConnectionsPerAddress: c.p2pMaxConnectionsPerAddress,
    discovery: c.discovery,
    relay: { serve: c.p2pRelay, maxReservations: c.p2pRelayReservations },
    reachability: c.p2pReachability
  })
  const h: Hive = hive = new Hive({
    host: p2p,
    privateKey: d.identity.privateKey,
    peerId,
    nodeId,
    hive: d.store.hive,
    peers: d.store.peers,
    logger: log,
    advert: () => d.info() as Record<string, unknown>,
    load: () => ({ ...d.load.read() }),
    audit: (action, target, detail) => { audit(action, 'node', target, 'success', detail) },
    // Forwarding is made by libp2p as the host starts; until then nothing is forwarded.
    inUse: (p): boolean => made.forwarding?.busyWith(p) ?? false
  }, { offlineAfterMs: c.peerOfflineAfter, degree: c.hiveDegree, limits: { joinPerMinute: c.p2pJoinRateLimit, authPerMinute: c.p2pAuthRateLimit }, joinToken: c.joinToken })
  const forward = forwardingService({
    nodeId,
    members: (id) => h.directory.membersByNodeId(id).filter((m) => h.isMember(m.peerId)).map((m) => {
      const name = (m.capabilities as { name?: unknown } | undefined)?.name
      return { peerId: m.peerId, status: m.status, name: typeof name === 'string' ? printable(name, 64) : undefined }
    }),
    isTrusted: (p) => h.directory.isTrusted(p) && h.isMember(p),
    isMember: (p) => h.isMember(p),
    reach: async (p) => { await h.reach(p) },
    serve: async (r: ServedRequest, signal) => await serveHiveCall({ catalog: d.catalog, handle: d.mcp, info: d.info, mcpUrl: d.mcpUrl, tracer: d.tracer }, r, signal),
    misbehaved: (p, why) => { h.directory.misbehaved(p, why) },
    audit,
    logger: log
  }, { timeoutMs: c.hiveForwardTimeout, perClient: c.hiveForwardPerClient, perMember: c.hiveForwardPerMember, maxBodyBytes: c.bodyLimit, scopes: c.hiveScopes })

  await h.load()
  // The hive's protocols are libp2p services: their handlers are in place before libp2p listens.
  const forwarding = await p2p.start({ hive: h.service(), forward })
  made.forwarding = forwarding
  h.begin()
  // One listener for every session of a hive caller (there may be thousands): each is told when
  // the member it came through is removed, or all of them (`*`) when this node is.
  const removedListeners = new Set<(peerId: string) => void>()
  h.on('peer', (e) => {
    if (e.type === 'removed') {
      const who = e.peerId === peerId ? '*' : e.peerId
      forwarding.hangUp(who === '*' ? undefined : who)
      for (const l of removedListeners) l(who)
    }
    d.notifications.publish('peer', { type: e.type, peer_id: e.peerId, node_id: e.nodeId, trust: e.trust })
    audit(`peer.${e.type}`, e.peerId, e.nodeId ?? e.peerId, 'success', { trust: e.trust })
  })
  return {
    p2p,
    hive: h,
    forwarding,
    onRemoved: (listener) => {
      removedListeners.add(listener)
      return () => { removedListeners.delete(listener) }
    },
    stop: async () => {
      await forwarding.stop().catch((err: unknown) => log.warn({ err }, 'forwarding did not stop cleanly'))
      await h.stop().catch((err: unknown) => log.warn({ err }, 'hive did not stop cleanly'))
      await p2p.stop().catch((err: unknown) => log.warn({ err }, 'libp2p host did not stop cleanly'))
    }
  }
}

/** The peers a node knows (its peer table), most recently seen first, as the MCP tools and REST routes show them. */
export function peerViews (hive: Hive | undefined): PeerView[] {
  return (hive?.directory.list() ?? []).map((p) => ({
    peer_id: p.peerId,
    ...(p.nodeId === undefined ? {} : { node_id: p.nodeId }),
    status: p.status,
    member: p.member,
    trust: p.trust,
    addresses: p.addresses,
    first_seen: p.firstSeen.toISOString(),
    last_seen: p.lastSeen.toISOString(),
    ...(p.capabilities === undefined ? {} : { capabilities: p.capabilities })
  }))
}

/** What a member's signed advert says of it, field by field: a member may say anything, so each is checked for its type. */
export function advertFacts (capabilities: Record<string, unknown> | undefined): { name?: string, version?: string, load?: Record<string, unknown>, tools: string[] } {
  const advert = (capabilities ?? {}) as { name?: unknown, version?: unknown, load?: unknown, capabilities?: { mcp?: { supported_tools?: unknown } } }
  const tools = advert.capabilities?.mcp?.supported_tools
  return {
    ...(typeof advert.name === 'string' ? { name: advert.name } : {}),
    ...(typeof advert.version === 'string' ? { version: advert.version } : {}),
    ...(advert.load !== null && typeof advert.load === 'object' ? { load: advert.load as Record<string, unknown> } : {}),
    tools: Array.isArray(tools) ? tools.filter((t): t is string => typeof t === 'string') : []
  }
}

/**
 * The hive view's members (this node first, from its own catalog; the others from their
 * adverts) and its way to reach each one's MCP endpoint: this node's own directly, the others
 * through the hive as the caller (never with the caller's token).
 */
export function hiveView (d: { catalog: Catalog, load: LoadMeter, part: () => HivePart | undefined, mcp: HivePartDeps['mcp'], mcpUrl: () => string }): HiveView {
  return new HiveView({
    members: () => {
      const part = d.part()
      const self: HiveMember = { nodeId: d.catalog.node.nodeId, name: d.catalog.node.name, status: 'self', tools: [...d.catalog.tools.keys()], load: { ...d.load.read() } }
      if (part === undefined || part.hive.hiveId === undefined) return [self]
      const others = part.hive.directory.list().filter((p) => p.member && p.nodeId !== undefined && part.hive.isMember(p.peerId)).map((p): HiveMember => {
        const advert = advertFacts(p.capabilities)
        return { nodeId: p.nodeId!, name: advert.name ?? p.nodeId!, status: p.status, tools: advert.tools, load: advert.load as Record<string, number> | undefined }
      })
      return [self, ...others]
    },
    rpc: async (nodeId, message, authInfo, signal) => {
      const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} }
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: message.method, params: { ...message.params, _meta: envelope } })
      // One stateless request of the 2026 era: no session to open or keep for one call.
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': message.method }
      if (typeof message.params.name === 'string') headers['mcp-name'] = message.params.name
      if (nodeId === d.catalog.node.nodeId) {
        if (d.mcp === undefined) throw new Error('this node does not serve MCP')
        return await d.mcp(new Request(d.mcpUrl(), { method: 'POST', headers, body, signal }), JSON.parse(body), authInfo)
      }
      const part = d.part()
      if (part === undefined) throw new ForwardError('p2p_starting')
      const caller = {
        clientId: authInfo.clientId,
        scopes: authInfo.scopes.filter((s) => s !== 'mcp:admin'),
        expiresAt: authInfo.expiresAt ?? Math.floor(Date.now() / 1000) + 60,
        tokenRef: sha256(authInfo.token).slice(0, 32)
      }
      return await part.forwarding.forward(nodeId, { target: 'mcp', method: 'POST', headers, body: Buffer.from(body) }, caller, signal)
    }
  }, { name: 'edge-hive-hive', version: VERSION })
}

/** DNS-SD (`_edge-hive._tcp`, with --discovery): the node's HTTPS port and who it is, for LAN browsers. */
export function advertiseOnLan (identity: NodeIdentity, port: number, mcpEnabled: boolean, logger: Logger): DnsSdAdvertiser {
  const dnsSd = new DnsSdAdvertiser({
    nodeId: identity.nodeId,
    port,
    txt: { node_id: identity.nodeId, peer_id: identity.peerId.toString(), version: VERSION, mcp_enabled: String(mcpEnabled), oauth2_enabled: 'true', ...(mcpEnabled ? { path: '/mcp' } : {}) }
  }, logger)
  dnsSd.start()
  return dnsSd
}
