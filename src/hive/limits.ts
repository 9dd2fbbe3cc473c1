import { isIPv4, isIPv6 } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * What a limit on remote peers is keyed by. A peer id costs nothing to make (a fresh key pair),
 * so every limit an unproven peer can drive is also kept per remote address: the IP, never the
 * port, and for IPv6 the /64, since one host is usually given a whole /64 and can pick any
 * address in it.
 */
export function addressKey (addr: Multiaddr | undefined): string {
  const c = addr?.getComponents().find((x) => x.name === 'ip4' || x.name === 'ip6')
  if (c?.value === undefined) return 'unknown'
  return ipKey(c.value)
}

/** `10.0.0.5` stays itself; `2001:db8:1:2:a:b:c:d` becomes `2001:db8:1:2::/64`; IPv4-mapped IPv6 is IPv4. */
export function ipKey (ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return mapped[1]!
  if (isIPv4(ip)) return ip
  if (!isIPv6(ip)) return 'unknown'
  const [head = '', tail] = ip.toLowerCase().split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

export interface AttemptLimitOptions {
  /** Attempts allowed per window from one remote address. */
  perAddress: number
  /** Attempts allowed per window from one peer id (a peer id is free to make: keep it below perAddress). */
  perPeer: number
  windowMs: number
  /** Keys remembered at most; the oldest are forgotten first, so the table cannot grow without bound. */
  maxKeys?: number
}

export type AttemptVerdict = 'ok' | 'peer' | 'address'

/**
 * Fixed-window counters of attempts per peer id and per remote address. Every attempt counts,
 * refused or not, so a peer that is over the limit gains nothing by going on.
 */
export class AttemptLimiter {
  readonly #o: Required<AttemptLimitOptions>
  readonly #counts = new Map<string, { n: number, resetAt: number }>()

  constructor (o: AttemptLimitOptions) {
    this.#o = { maxKeys: 10_000, ...o }
  }

  /** Counts one attempt by `peer` from `address`; says which key is over its limit, if any. */
  take (peer: string, address: string, now = Date.now()): AttemptVerdict {
    const byAddress = this.#count(`a:${address}`, now)
    const byPeer = this.#count(`p:${peer}`, now)
    if (byAddress > this.#o.perAddress) return 'address'
    if (byPeer > this.#o.perPeer) return 'peer'
    return 'ok'
  }

  #count (key: string, now: number): number {
    let c = this.#counts.get(key)
    if (c === undefined || c.resetAt <= now) {
      this.#counts.delete(key)
      if (this.#counts.size >= this.#o.maxKeys) this.#prune(now)
      c = { n: 0, resetAt: now + this.#o.windowMs }
      this.#counts.set(key, c)
    }
    c.n++
    return c.n
  }

  /** Drops expired keys; if none expired, the oldest (Map order is insertion order). */
  #prune (now: number): void {
    for (const [k, c] of this.#counts) if (c.resetAt <= now) this.#counts.delete(k)
    while (this.#counts.size >= this.#o.maxKeys) this.#counts.delete(this.#counts.keys().next().value!)
  }
}
