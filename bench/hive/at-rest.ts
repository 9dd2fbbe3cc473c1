// A hive at rest: what each node costs while nothing is asked of it, over one window after the
// hive formed (the monitor does not poll then). Per node: CPU (/proc of its process), resident
// memory at the end, libp2p connections (sampled), and packets and bytes through its veth
// (kernel counters, start to end: mDNS multicast included, as the issue wants it counted).
import type { TestNetwork, TestHost } from '../../test/hive/netns.ts'
import { cpuMs, rssBytes, sleep, type BenchNode } from '../lib/node.ts'
import { interfaceCounters, portConnections, type InterfaceCounters, type PortConnections } from './net-counters.ts'

/** Mean and max over the nodes. */
export interface Spread { mean: number, max: number }

export interface AtRest {
  window_ms: number
  /** Whether the hive had formed when the window began (else it began when formation timed out). */
  after_formation: boolean
  /** Nodes measured: those running from start to end of the window. */
  nodes: number
  /** CPU time over the window, % of one core. */
  cpu_pct: Spread
  /** VmRSS at the end of the window. */
  rss_bytes: Spread & { min: number }
  /**
   * Established TCP connections on the p2p port (either side), sampled every `every_ms` and at both
   * ends of the window: mean over nodes and samples, max of any node in any sample; the means of
   * inbound (to the node's port) and outbound (dialled by the node).
   */
  connections: Spread & {
    samples: number, every_ms: number, inbound_mean: number, outbound_mean: number
    /** At the end of the window: mean over nodes, and the most any node held (a transient while the hive formed is gone by then). */
    at_end: Spread
    /** The node with the most connections over the window (its place in the list measured: 0 is the founder) and its mean. */
    busiest: { node: number, mean: number }
  }
  /** Through the node's veth, per second over the window: received (in) and sent (out). */
  packets_per_s: { in: Spread, out: Spread }
  bytes_per_s: { in: Spread, out: Spread }
}

export interface RestingNode { node: BenchNode, host: TestHost }

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const spread = (xs: number[]): Spread => ({ mean: mean(xs), max: Math.max(...xs) })

/** Watches the nodes at rest for `windowMs`; undefined when none ran through the window. */
export async function measureAtRest (net: TestNetwork, nodes: RestingNode[], o: { windowMs: number, sampleEveryMs: number, p2pPort: number, afterFormation: boolean }): Promise<AtRest | undefined> {
  const cpuAt = (n: RestingNode): { at: number, ms: number } | undefined => {
    try { return { at: performance.now(), ms: cpuMs(n.node.pid) } } catch { return undefined } // exited
  }
  const counters = async (): Promise<InterfaceCounters[]> => await Promise.all(nodes.map(async (n) => await interfaceCounters(net, n.host)))
  const samples: PortConnections[][] = []
  const sample = async (): Promise<void> => { samples.push(await Promise.all(nodes.map(async (n) => await portConnections(net, n.host, o.p2pPort)))) }

  const start = performance.now()
  const end = start + o.windowMs
  const cpu0 = nodes.map(cpuAt)
  const net0 = await counters()
  await sample()
  // On a fixed schedule (a slow sample does not push the next ones back); the last is taken with the end counters.
  for (let k = 1; start + k * o.sampleEveryMs < end; k++) {
    await sleep(Math.max(0, start + k * o.sampleEveryMs - performance.now()))
    await sample()
  }
  await sleep(Math.max(0, end - performance.now()))
  const cpu1 = nodes.map(cpuAt)
  const net1 = await counters()
  await sample()

  // Only nodes that ran through the window.
  const kept = nodes.map((_, i) => i).filter((i) => cpu0[i] !== undefined && cpu1[i] !== undefined && nodes[i]!.node.running)
  if (kept.length === 0) return undefined
  const perS = (i: number, f: (c: InterfaceCounters) => number): number => (f(net1[i]!) - f(net0[i]!)) / ((net1[i]!.at - net0[i]!.at) / 1000)
  const rss = kept.map((i) => rssBytes(nodes[i]!.node.pid))
  const conns = samples.flatMap((s) => kept.map((i) => s[i]!))
  return {
    window_ms: o.windowMs,
    after_formation: o.afterFormation,
    nodes: kept.length,
    cpu_pct: spread(kept.map((i) => 100 * (cpu1[i]!.ms - cpu0[i]!.ms) / (cpu1[i]!.at - cpu0[i]!.at))),
    rss_bytes: { ...spread(rss), min: Math.min(...rss) },
    connections: {
      ...spread(conns.map((c) => c.inbound + c.outbound)),
      samples: samples.length,
      every_ms: o.sampleEveryMs,
      inbound_mean: mean(conns.map((c) => c.inbound)),
      outbound_mean: mean(conns.map((c) => c.outbound)),
      at_end: spread(kept.map((i) => samples.at(-1)![i]!).map((c) => c.inbound + c.outbound)),
      busiest: kept.map((i) => ({ node: i, mean: mean(samples.map((s) => s[i]!.inbound + s[i]!.outbound)) })).reduce((a, b) => (b.mean > a.mean ? b : a))
    },
    packets_per_s: { in: spread(kept.map((i) => perS(i, (c) => c.rx_packets))), out: spread(kept.map((i) => perS(i, (c) => c.tx_packets))) },
    bytes_per_s: { in: spread(kept.map((i) => perS(i, (c) => c.rx_bytes))), out: spread(kept.map((i) => perS(i, (c) => c.tx_bytes))) }
  }
}
