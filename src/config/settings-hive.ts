import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import type { Setting } from './settings.ts'
import { boolean, duration, integer, list, text } from './values.ts'

function parses (text: string): ReturnType<typeof multiaddr> | undefined {
  try { return multiaddr(text) } catch { return undefined }
}

/** What the host can listen on: `/ip4|ip6/<address>/tcp/<port>` or `/ip4|ip6/<address>/udp/<port>/quic-v1`. */
function isListenAddr (text: string): boolean {
  const names = parses(text)?.getComponents().map((c) => c.name) ?? []
  if (!['ip4', 'ip6'].includes(names[0]!)) return false
  return (names.length === 2 && names[1] === 'tcp') || (names.length === 3 && names[1] === 'udp' && names[2] === 'quic-v1')
}

/** A dialable multiaddr that names its peer: `.../tcp/<port>/p2p/<peer id>`. */
function isDialAddr (text: string): boolean {
  const names = parses(text)?.getComponents().map((c) => c.name) ?? []
  return (names.includes('tcp') || names.includes('quic-v1')) && names.at(-1) === 'p2p'
}

/** The settings of the libp2p host and the hive, in resolution order (after the HTTP and OAuth ones). */
export const HIVE_SETTINGS: readonly Setting[] = [
  {
    key: 'p2pEnabled', env: 'EDGE_HIVE_P2P_ENABLED', flag: { spec: '--no-p2p', attr: 'p2p', help: 'Do not run the libp2p host: the node joins no hive and meets no peers.' },
    description: 'Run the libp2p host that joins the hive.',
    allowed: 'true or false', schema: () => boolean(), default: () => true
  },
  {
    key: 'p2pListen', env: 'EDGE_HIVE_P2P_LISTEN', flag: { spec: '--p2p-listen <multiaddr>', attr: 'p2pListen', repeatable: true },
    description: 'Multiaddrs the libp2p host listens on (repeat the flag; comma-separated in the environment). A node that listens on no QUIC address does not load QUIC (4-6 MiB less memory) and dials peers at their TCP addresses only.',
    allowed: 'TCP or QUIC multiaddrs like /ip4/0.0.0.0/tcp/4001 or /ip4/0.0.0.0/udp/4001/quic-v1', schema: () => list(text(256).refine(isListenAddr), 16),
    default: () => ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/udp/4001/quic-v1']
  },
  {
    key: 'bootstrap', env: 'EDGE_HIVE_BOOTSTRAP', flag: { spec: '--bootstrap <multiaddr>', attr: 'bootstrap', repeatable: true },
    description: 'Peers to dial at start, and again while the node needs them (not a member yet, or short of its degree), e.g. /ip4/10.0.0.5/tcp/4001/p2p/12D3KooW... (repeatable).',
    allowed: 'multiaddrs ending in /p2p/<peer id>', schema: () => list(text(512).refine(isDialAddr), 32), default: () => []
  },
  {
    key: 'p2pMaxConnections', env: 'EDGE_HIVE_P2P_MAX_CONNECTIONS', flag: { spec: '--p2p-max-connections <number>', attr: 'p2pMaxConnections' },
    description: 'Open libp2p connections at most.',
    allowed: 'a whole number from 1 to 10000', schema: () => integer(1, 10_000), default: () => 300
  },
  {
    key: 'p2pMaxConnectionsPerAddress', env: 'EDGE_HIVE_P2P_MAX_CONNECTIONS_PER_ADDRESS', flag: { spec: '--p2p-max-connections-per-address <number>', attr: 'p2pMaxConnectionsPerAddress' },
    description: 'Open inbound libp2p connections from one remote address (an IPv4 address or an IPv6 /64) at most, so no one address takes every slot; raise it when many nodes share one address (NAT).',
    allowed: 'a whole number from 1 to 10000', schema: () => integer(1, 10_000), default: () => 16
  },
  {
    key: 'p2pReachability', env: 'EDGE_HIVE_P2P_REACHABILITY', flag: { spec: '--p2p-reachability <reachability>', attr: 'p2pReachability' },
    description: 'Whether other members can dial this node. `private` (behind NAT, no inbound route): it reserves a slot on a member that relays and advertises its relayed address, through which members reach it (and then dial it directly where the NAT lets them).',
    allowed: 'public or private', schema: () => z.enum(['public', 'private']), default: () => 'public'
  },
  {
    key: 'p2pRelay', env: 'EDGE_HIVE_P2P_RELAY', flag: { spec: '--no-p2p-relay', attr: 'p2pRelay', help: 'Do not relay connections for members behind NAT.' },
    description: 'Relay connections to members behind NAT (libp2p circuit relay v2), for proven members of this hive only.',
    allowed: 'true or false', schema: () => boolean(), default: () => true
  },
  {
    key: 'p2pRelayReservations', env: 'EDGE_HIVE_P2P_RELAY_RESERVATIONS', flag: { spec: '--p2p-relay-reservations <number>', attr: 'p2pRelayReservations' },
    description: 'Members behind NAT this node relays for at once (reservations, each for an hour and refreshed); one remote address holds a quarter of them.',
    allowed: 'a whole number from 1 to 1024', schema: () => integer(1, 1024), default: () => 16
  },
  {
    key: 'discovery', env: 'EDGE_HIVE_DISCOVERY', flag: { spec: '--discovery', attr: 'discovery' },
    description: 'Find peers on the LAN (mDNS) and announce the node as the DNS-SD service _edge-hive._tcp. Without it the node sends no multicast.',
    allowed: 'true or false', schema: () => boolean(), default: () => false
  },
  {
    key: 'peerOfflineAfter', env: 'EDGE_HIVE_PEER_OFFLINE_AFTER', flag: { spec: '--peer-offline-after <duration>', attr: 'peerOfflineAfter' },
    description: 'A member not heard from for this long is shown offline. Members send a heartbeat (a small signed message, by gossip) three times in this span; a hive of more than 200 members beats more slowly and waits longer (see "How the hive scales" in docs/hive.md). A member that stops cleanly, or whose connections drop, is shown offline within seconds; this span is for a member that hangs while its connections stay up. Shorter costs more at rest: heartbeats are most of the traffic of a hive at rest.',
    allowed: 'a duration from 3s to 10m, like 15s', schema: () => duration(3000, 600_000), default: () => 60_000
  },
  {
    key: 'hiveDegree', env: 'EDGE_HIVE_DEGREE', flag: { spec: '--hive-degree <number>', attr: 'hiveDegree' },
    description: 'Members this node keeps a connection to: it dials more while it has fewer, and closes the extra ones beyond one and a half times this many (not those opened in the last minute). Adverts, removals and heartbeats reach the others by gossip through them.',
    allowed: 'a whole number from 2 to 64', schema: () => integer(2, 64), default: () => 6
  },
  {
    key: 'joinToken', env: 'EDGE_HIVE_JOIN_TOKEN', secret: true,
    description: 'An invitation (from `edge-hive hive invite`) to join with at start when the node is not yet a member; for containers. Environment or config file only.',
    allowed: 'an invitation token starting with ehi_', schema: () => text(8192)
  },
  {
    key: 'p2pJoinRateLimit', env: 'EDGE_HIVE_P2P_JOIN_RATE_LIMIT', flag: { spec: '--p2p-join-rate-limit <per-minute>', attr: 'p2pJoinRateLimit' },
    description: 'Join requests (/edge-hive/join) answered per minute from one remote address (IPv4 address or IPv6 /64); one peer id gets a quarter of it. More are refused without being looked at.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 20
  },
  {
    key: 'p2pAuthRateLimit', env: 'EDGE_HIVE_P2P_AUTH_RATE_LIMIT', flag: { spec: '--p2p-auth-rate-limit <per-minute>', attr: 'p2pAuthRateLimit' },
    description: 'Challenges (/edge-hive/auth) answered per minute from one remote address (IPv4 address or IPv6 /64); one peer id gets a quarter of it. More are refused without being looked at.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 120
  },
  {
    key: 'hiveScopes', env: 'EDGE_HIVE_HIVE_SCOPES', flag: { spec: '--hive-scopes <scopes>', attr: 'hiveScopes' },
    description: 'What an agent that reaches this node through another member of the hive may do here, at most: each call gets the scopes its own token carries and this list allows. `mcp:admin` never crosses the hive. `none` refuses every call from the hive.',
    allowed: 'mcp:read, mcp:call and mcp:resources, comma-separated, or none',
    schema: () => list(z.string().trim().pipe(z.enum(['mcp:read', 'mcp:call', 'mcp:resources', 'none'])), 4).refine((l) => !l.includes('none') || l.length === 1)
      .transform((l) => l.filter((s) => s !== 'none')),
    default: () => ['mcp:read']
  },
  {
    key: 'hiveForwardTimeout', env: 'EDGE_HIVE_HIVE_FORWARD_TIMEOUT', flag: { spec: '--hive-forward-timeout <duration>', attr: 'hiveForwardTimeout' },
    description: 'How long a member has to start answering a request this node forwards to it (the answer, a notification stream say, may then last as long as the caller\'s token).',
    allowed: 'a duration from 1s to 10m, like 30s', schema: () => duration(1000, 600_000), default: () => 30_000
  },
  {
    key: 'hiveForwardPerClient', env: 'EDGE_HIVE_HIVE_FORWARD_PER_CLIENT', flag: { spec: '--hive-forward-per-client <number>', attr: 'hiveForwardPerClient' },
    description: 'Requests through the hive one client may have open at once, on the node it calls and on the member that answers (notification streams count while open).',
    allowed: 'a whole number from 1 to 10000', schema: () => integer(1, 10_000), default: () => 16
  },
  {
    key: 'hiveForwardPerMember', env: 'EDGE_HIVE_HIVE_FORWARD_PER_MEMBER', flag: { spec: '--hive-forward-per-member <number>', attr: 'hiveForwardPerMember' },
    description: 'Requests open at once to one member through this node, and from one member on this node.',
    allowed: 'a whole number from 1 to 100000', schema: () => integer(1, 100_000), default: () => 64
  },
]
