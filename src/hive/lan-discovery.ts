import { randomBytes } from 'node:crypto'
import createMdns from 'multicast-dns'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isPrivateIp } from '@libp2p/utils'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'

type Mdns = ReturnType<typeof createMdns>
/** The parts of a DNS record this reads and writes. */
interface Answer { name: string, type: string, class?: string, ttl?: number, data?: unknown }

/** Queries this node answers at most, a second: a flood of queries must not turn it into an amplifier. */
const MAX_ANSWERS_PER_SECOND = 2
/** Responses looked at, a second; the rest are dropped unread (one LAN host can send any number). */
const MAX_RESPONSES_PER_SECOND = 50
const TTL_S = 120
const MAX_TXT = 255

export interface LanDiscoveryComponents {
  peerId: string
  logger: Logger
  /** The node's own addresses, each ending in /p2p/<peer id>. */
  addresses (): Multiaddr[]
  /** Whether the node wants more peers now: only then does it ask the LAN. */
  wanted (): boolean
  /** A peer answered: its peer id and the addresses it gave (private addresses only). */
  found (peerId: string, addrs: Multiaddr[]): void
}

export interface LanDiscoveryOptions {
  /** The mDNS service name queried and answered. */
  serviceTag: string
  /** While `wanted()`, a query goes out this often; otherwise none. */
  queryIntervalMs: number
}

/**
 * Finds hive peers on the LAN over mDNS, in the wire format of libp2p's mDNS discovery (a PTR
 * query for the service; answers carry `dnsaddr=<multiaddr>` TXT records), so nodes that use
 * `@libp2p/mdns` under the same service name find these and the other way round.
 *
 * Why not `@libp2p/mdns` itself: it queries on a fixed interval whatever the node needs, and
 * every node on the segment answers every query, so each node receives n² / interval packets
 * (30 nodes every 10 s: 90 packets a second each, most of a hive's idle CPU when measured).
 * Here a node queries at start and then only while it wants peers (it holds fewer member
 * connections than its degree); a formed hive sends no mDNS at all, and a node joining costs
 * every other node one query and n answers.
 */
export class LanDiscovery {
  readonly #c: LanDiscoveryComponents
  readonly #o: LanDiscoveryOptions
  readonly #name = randomBytes(16).toString('hex')
  #mdns?: Mdns
  #timer?: NodeJS.Timeout
  #window = { at: 0, answers: 0, responses: 0 }

  constructor (c: LanDiscoveryComponents, o: LanDiscoveryOptions) {
    this.#c = c
    this.#o = o
  }

  start (): void {
    if (this.#mdns !== undefined) return
    const mdns = createMdns()
    this.#mdns = mdns
    mdns.on('query', (q) => { this.#answer(q) })
    mdns.on('response', (r) => { this.#response(r as { answers?: Answer[], additionals?: Answer[] }) })
    mdns.on('warning', (err: unknown) => this.#c.logger.debug({ err: messageOf(err) }, 'mDNS warning'))
    mdns.on('error', (err: unknown) => this.#c.logger.warn({ err: messageOf(err) }, 'mDNS error'))
    this.query()
    this.#timer = setInterval(() => { if (this.#c.wanted()) this.query() }, this.#o.queryIntervalMs).unref()
  }

  /** Asks the LAN for peers now. */
  query (): void {
    this.#mdns?.query({ questions: [{ name: this.#o.serviceTag, type: 'PTR' }] })
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#mdns?.destroy()
    this.#mdns = undefined
  }

  /** Counts against this second's allowance; false once it is used up. */
  #allow (kind: 'answers' | 'responses', max: number): boolean {
    const now = Date.now()
    if (now - this.#window.at >= 1000) this.#window = { at: now, answers: 0, responses: 0 }
    return ++this.#window[kind] <= max
  }

  #answer (q: { questions?: Array<{ name: string, type: string }> }): void {
    if (q.questions?.[0]?.name !== this.#o.serviceTag || this.#mdns === undefined) return
    const addrs = this.#c.addresses().filter(isLanAddress).map((a) => `dnsaddr=${a.toString()}`).filter((t) => t.length <= MAX_TXT)
    if (addrs.length === 0 || !this.#allow('answers', MAX_ANSWERS_PER_SECOND)) return
    const instance = `${this.#name}.${this.#o.serviceTag}`
    const answers: Answer[] = [
      { name: this.#o.serviceTag, type: 'PTR', class: 'IN', ttl: TTL_S, data: instance },
      ...addrs.map((data): Answer => ({ name: instance, type: 'TXT', class: 'IN', ttl: TTL_S, data }))
    ]
    this.#mdns.respond(answers as Parameters<Mdns['respond']>[0])
  }

  #response (r: { answers?: Answer[], additionals?: Answer[] }): void {
    const all = [...(r.answers ?? []), ...(r.additionals ?? [])]
    const ptr = all.find((a) => a.type === 'PTR' && a.name === this.#o.serviceTag)
    if (ptr === undefined || String(ptr.data).startsWith(this.#name) || !this.#allow('responses', MAX_RESPONSES_PER_SECOND)) return
    const addrs: Multiaddr[] = []
    for (const a of all) {
      if (a.type !== 'TXT') continue
      for (const d of [a.data].flat()) {
        const text = String(d)
        if (!text.startsWith('dnsaddr=') || addrs.length >= 16) continue
        try {
          addrs.push(multiaddr(text.slice('dnsaddr='.length)))
        } catch { /* not a multiaddr: skipped */ }
      }
    }
    const withPeer = addrs.filter(isLanAddress)
    const peer = withPeer[0]?.getComponents().findLast((c) => c.name === 'p2p')?.value
    if (peer === undefined || peer === this.#c.peerId) return
    this.#c.found(peer, withPeer.filter((a) => a.getComponents().findLast((c) => c.name === 'p2p')?.value === peer))
  }
}

/** Private (LAN or loopback) addresses that name a peer: the only ones mDNS carries. */
function isLanAddress (a: Multiaddr): boolean {
  const c = a.getComponents()
  const ip = c.find((x) => x.name === 'ip4' || x.name === 'ip6')?.value
  return ip !== undefined && isPrivateIp(ip) === true && c.some((x) => x.name === 'p2p')
}
