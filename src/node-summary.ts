import type { Config } from './config/index.ts'
import type { NodeIdentity, TlsMaterial } from './identity/index.ts'
import type { Catalog } from './mcp/index.ts'
import type { P2PHost } from './hive/index.ts'
import { TOKEN_PATH } from './auth/index.ts'
import { MCP_PATH } from './node-mcp.ts'
import { buildNodeInfo, type NodeInfo } from './shared/node-info.ts'
import type { Load } from './shared/load.ts'
import { VERSION, PLATFORM } from './shared/version.ts'

/** The MCP protocol revision the node speaks by default (the session era most clients use). */
const MCP_PROTOCOL_VERSION = '2025-11-25'

/** What a started node tells its operator (the banner) and `edge-hive status`. */
export interface NodeSummary {
  name: string
  nodeId: string
  peerId: string
  baseUrl: string
  mcpUrl: string
  /** URL that reaches the node from this machine. */
  localUrl: string
  fingerprint: string | undefined
  /** libp2p addresses other nodes dial (`.../p2p/<peer id>`); empty with --no-p2p. */
  p2pAddrs: string[]
  /** Where Prometheus scrapes the node; undefined with --no-metrics. */
  metricsUrl: string | undefined
  /** The operator's console in a browser; undefined with --no-console. */
  consoleUrl: string | undefined
  dataDir: string
  issuer: string
  /** The operator client made on the very first start; its secret is shown once. */
  firstClient?: { clientId: string, clientSecret: string } | undefined
}

/** The address that reaches a listener bound to `host` from this machine. */
export function loopbackFor (host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

/** A running node as its info document and its summary describe it. */
export interface NodeState {
  config: Config
  identity: NodeIdentity
  startedAt: number
  load: Load
  publicUrl: string
  issuer: string
  tls: TlsMaterial | undefined
  metricsUrl: string | undefined
  catalog: Catalog | undefined
  p2p: Pick<P2PHost, 'protocols' | 'listenAddrs'> | undefined
}

/** The node's info document (its capability advertisement). */
export function nodeInfo (s: NodeState): NodeInfo {
  const c = s.config
  return buildNodeInfo({
    nodeId: s.identity.nodeId,
    peerId: s.identity.peerId.toString(),
    name: c.nodeName,
    version: VERSION,
    platform: PLATFORM,
    startedAt: s.startedAt,
    load: s.load,
    mcp: {
      enabled: c.mcpEnabled,
      protocolVersion: MCP_PROTOCOL_VERSION,
      endpoint: `${s.publicUrl}${MCP_PATH}`,
      tools: [...(s.catalog?.tools.keys() ?? [])],
      resources: [...(s.catalog?.resources.keys() ?? []), ...[...(s.catalog?.templates.values() ?? [])].map((t) => t.uriTemplate)]
    },
    p2p: { enabled: s.p2p !== undefined, protocols: s.p2p?.protocols() ?? [], listenAddrs: s.p2p?.listenAddrs() ?? [] },
    auth: {
      enabled: true,
      issuer: s.issuer,
      tokenEndpoint: `${s.issuer}${TOKEN_PATH}`,
      flows: ['client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']
    }
  })
}

/** What a started node tells its operator, `port` being the one the HTTPS server got. */
export function nodeSummary (s: NodeState, port: number): NodeSummary {
  const c = s.config
  const scheme = c.insecureHttp ? 'http' : 'https'
  return {
    name: c.nodeName,
    nodeId: s.identity.nodeId,
    peerId: s.identity.peerId.toString(),
    baseUrl: s.publicUrl,
    mcpUrl: `${s.publicUrl}${MCP_PATH}`,
    localUrl: `${scheme}://${loopbackFor(c.host)}:${port}`,
    fingerprint: s.tls?.fingerprint,
    p2pAddrs: s.p2p?.listenAddrs() ?? [],
    metricsUrl: s.metricsUrl,
    consoleUrl: c.consoleEnabled ? `${s.publicUrl}/console` : undefined,
    dataDir: c.dataDir,
    issuer: s.issuer
  }
}
