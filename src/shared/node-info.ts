import type { Load } from './load.ts'

/**
 * The node's self-description: the capability advertisement of the original Edge Hive design, served at
 * `/mcp/node/{node_id}/info` and, signed, to other hive members. Fields stay snake_case as
 * in that design, since other implementations read them.
 */
export interface NodeInfo {
  node_id: string
  peer_id: string
  name: string
  version: string
  platform: string
  uptime: number
  load: Load
  capabilities: {
    mcp: {
      enabled: boolean
      version: string
      https_endpoint: string
      supported_tools: string[]
      supported_resources: string[]
    }
    p2p: {
      enabled: boolean
      protocols: string[]
      listen_addrs: string[]
    }
  }
  metadata: {
    name: string
    version: string
    platform: string
    uptime: number
    load: Load
  }
  authentication: {
    oauth2_enabled: boolean
    issuer: string
    token_endpoint: string | null
    supported_flows: string[]
  }
}

/** The parts of the info document that other parts of the node fill in. */
export interface NodeFacts {
  nodeId: string
  peerId: string
  name: string
  version: string
  platform: string
  startedAt: number
  load: Load
  mcp: { enabled: boolean, protocolVersion: string, endpoint: string, tools: string[], resources: string[] }
  p2p: { enabled: boolean, protocols: string[], listenAddrs: string[] }
  auth: { enabled: boolean, issuer: string, tokenEndpoint: string | null, flows: string[] }
}

export function buildNodeInfo (f: NodeFacts, now = Date.now()): NodeInfo {
  const uptime = Math.max(0, Math.floor((now - f.startedAt) / 1000))
  return {
    node_id: f.nodeId,
    peer_id: f.peerId,
    name: f.name,
    version: f.version,
    platform: f.platform,
    uptime,
    load: f.load,
    capabilities: {
      mcp: {
        enabled: f.mcp.enabled,
        version: f.mcp.protocolVersion,
        https_endpoint: f.mcp.endpoint,
        supported_tools: f.mcp.tools,
        supported_resources: f.mcp.resources
      },
      p2p: { enabled: f.p2p.enabled, protocols: f.p2p.protocols, listen_addrs: f.p2p.listenAddrs }
    },
    metadata: { name: f.name, version: f.version, platform: f.platform, uptime, load: f.load },
    authentication: {
      oauth2_enabled: f.auth.enabled,
      issuer: f.auth.issuer,
      token_endpoint: f.auth.tokenEndpoint,
      supported_flows: f.auth.flows
    }
  }
}
