// What a node's network namespace says about its traffic: the kernel's counters of its end of
// the veth pair, and its established libp2p TCP connections. Read inside the namespace
// (`ip netns exec`, which also mounts that namespace's /sys), so each figure is one node's own.
import type { TestNetwork, TestHost } from '../../test/hive/netns.ts'
import { execFileP } from '../lib/node.ts'

/** scripts/lib/netns.ts names each host's end of its veth pair eth0: all its traffic (the bridge is its only link). */
const IFACE = 'eth0'
const COUNTERS = ['rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets'] as const

/** An interface's counters since it was made, with when they were read (performance.now()). */
export interface InterfaceCounters { at: number, rx_bytes: number, rx_packets: number, tx_bytes: number, tx_packets: number }

/** Reads /sys/class/net/eth0/statistics/{rx,tx}_{bytes,packets} inside the host's namespace. */
export async function interfaceCounters (net: TestNetwork, host: TestHost): Promise<InterfaceCounters> {
  const { cmd, args } = net.command(host, ['cat', ...COUNTERS.map((c) => `/sys/class/net/${IFACE}/statistics/${c}`)])
  const { stdout } = await execFileP(cmd, args, { timeout: 10_000 })
  const at = performance.now()
  const values = stdout.trim().split('\n').map(Number)
  if (values.length !== COUNTERS.length || values.some((v) => !Number.isFinite(v))) throw new Error(`unexpected ${IFACE} counters in ${host.ns}: ${stdout}`)
  return { at, rx_bytes: values[0]!, rx_packets: values[1]!, tx_bytes: values[2]!, tx_packets: values[3]! }
}

/** Established TCP connections with `port` on either side: inbound (ours is the local port) and outbound. */
export interface PortConnections { inbound: number, outbound: number }

/** Counts the host's established TCP connections on `port` (local or remote side) with `ss`. */
export async function portConnections (net: TestNetwork, host: TestHost, port: number): Promise<PortConnections> {
  const { cmd, args } = net.command(host, ['ss', '-Htn', 'state', 'established', `( sport = :${port} or dport = :${port} )`])
  const { stdout } = await execFileP(cmd, args, { timeout: 10_000 })
  const out: PortConnections = { inbound: 0, outbound: 0 }
  for (const line of stdout.split('\n')) {
    // Recv-Q Send-Q Local:Port Peer:Port (the state column is left out when one state is asked for).
    const ends = line.trim().split(/\s+/).filter((f) => /:\d+$/.test(f))
    if (ends.length < 2) continue
    if (ends[0]!.endsWith(`:${port}`)) out.inbound++; else out.outbound++
  }
  return out
}
