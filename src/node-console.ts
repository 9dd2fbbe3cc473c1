import { settingsInEffect, type Config } from './config/index.ts'
import type { AuditFeed } from './store/index.ts'
import type { ClientRegistry, OperatorAccount } from './auth/index.ts'
import type { AuthorizationServer } from './auth/index.ts'
import type { NotificationStream } from './mcp/index.ts'
import type { ConsoleComponents, ConsoleHive, ConsoleMember, SignInAnswer } from './http/index.ts'
import { advertFacts, type HivePart } from './node-hive.ts'
import type { NodeInfo } from './shared/node-info.ts'
import type { NodeMetrics } from './shared/metrics.ts'

export interface ConsolePartDeps {
  config: Config
  registry: ClientRegistry
  operator: OperatorAccount
  audit: AuditFeed
  metrics: NodeMetrics
  notifications: NotificationStream
  fingerprint: string | undefined
  signIn: ConsoleComponents['signIn']
  authServer (): AuthorizationServer
  hivePart (): HivePart | undefined
  info (): NodeInfo
  tokenUrl (): string
}

const num = (v: unknown): number | undefined => typeof v === 'number' && Number.isFinite(v) ? v : undefined

/** The console's view of the hive: this node, and each member as its last signed advert describes it. */
function consoleHive (part: HivePart, info: NodeInfo): ConsoleHive {
  const { hive, p2p } = part
  return {
    hiveId: hive.hiveId,
    joining: hive.joining,
    init: async () => await hive.init(),
    invite: async (o) => await hive.invite(o),
    remove: async (peerId) => await hive.remove(peerId),
    members: () => {
      const connected = p2p.connectedPeers()
      const byPeer = new Map(hive.directory.list().map((p) => [p.peerId, p]))
      return hive.members().members.map((m): ConsoleMember => {
        if (m.self) {
          return {
            peerId: m.peer_id, nodeId: m.node_id, name: info.name, self: true, status: 'self', trust: 1,
            load: info.load, version: info.version, tools: info.capabilities.mcp.supported_tools, connected: false
          }
        }
        const advert = advertFacts(byPeer.get(m.peer_id)?.capabilities)
        const cpu = num(advert.load?.cpu)
        const memory = num(advert.load?.memory)
        return {
          peerId: m.peer_id,
          nodeId: m.node_id,
          name: advert.name !== undefined && advert.name !== '' ? advert.name.slice(0, 100) : (m.node_id ?? m.peer_id),
          self: false,
          status: m.status === 'self' ? 'online' : m.status,
          trust: m.trust,
          load: cpu === undefined || memory === undefined ? undefined : { cpu, memory },
          version: advert.version?.slice(0, 40),
          lastSeen: m.last_seen,
          tools: advert.tools.slice(0, 100),
          connected: connected.has(m.peer_id)
        }
      })
    }
  }
}

/** What the operator's console reaches of the node: its own services, nothing copied. */
export function consoleComponents (d: ConsolePartDeps): ConsoleComponents {
  const settings = settingsInEffect(d.config)
  return {
    signIn: d.signIn,
    operatorSet: async () => await d.operator.isSet(),
    node: () => {
      const info = d.info()
      const part = d.hivePart()
      const facts: Array<[string, string]> = [
        ['Name', info.name],
        ['Node id', info.node_id],
        ['Peer id', info.peer_id],
        ['Version', info.version],
        ['Platform', info.platform],
        ['Up for', uptime(info.uptime)],
        ['Load', `CPU ${info.load.cpu.toFixed(0)}%, memory ${info.load.memory.toFixed(0)}%`],
        ['MCP endpoint', info.capabilities.mcp.https_endpoint],
        ['Certificate (SHA-256)', d.fingerprint ?? 'none: plain HTTP'],
        ['Hive', part === undefined ? 'none: --no-p2p' : part.hive.hiveId ?? 'none yet'],
        ['Listening (libp2p)', part === undefined ? '—' : part.p2p.listenAddrs().join(' ') || '—']
      ]
      return { facts, settings, tokenUrl: d.tokenUrl() }
    },
    hive: () => {
      const part = d.hivePart()
      return part === undefined ? undefined : consoleHive(part, d.info())
    },
    clients: d.registry,
    grants: async () => await d.authServer().grants(),
    revokeGrant: async (id, actor) => await d.authServer().revokeGrant(id, actor),
    activity: async (limit) => await d.audit.list({ limit }),
    perMinute: () => d.metrics.perMinute.recent(),
    changes: (listener, onEnd) => d.notifications.subscribe(listener, onEnd)
  }
}

function uptime (seconds: number): string {
  const d = Math.floor(seconds / 86_400)
  const h = Math.floor((seconds % 86_400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min ${Math.floor(seconds % 60)} s`
}

export type { SignInAnswer }
