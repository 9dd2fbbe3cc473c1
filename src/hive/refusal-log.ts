import type { Logger } from '../shared/logger.ts'

/** Writes one audit entry (the hive's `audit` component). */
export type AuditWrite = (action: string, target: string, detail?: Record<string, unknown>) => void

export interface RefusalLogOptions {
  windowMs: number
  /** Audit entries written per window for refusals, all addresses together; the rest are summed into one. */
  maxEntriesPerWindow: number
  /** Addresses tracked per window; refusals from more are summed into the global summary only. */
  maxAddresses?: number
}

interface Tally { suppressed: number, peers: Set<string>, reasons: Map<string, number> }

const MAX_PEERS_NAMED = 8

/**
 * Refusals of unproven peers (join refused, challenge failed, over a rate limit), aggregated so
 * that a flood cannot push real events out of the audit log: per window, the first refusal from
 * an address is written at once, the others from that address are summed into one entry when
 * the window ends (debug log lines for each), and once `maxEntriesPerWindow` entries were
 * written, everything else goes into a single `hive.refusals_suppressed` entry. Keyed by remote
 * address, not peer id: peer ids are free to make.
 */
export class RefusalLog {
  readonly #audit: AuditWrite
  readonly #log: Logger
  readonly #o: Required<RefusalLogOptions>
  #tallies = new Map<string, Tally>()
  #written = 0
  #overflow = { refused: 0, addresses: new Set<string>() }
  readonly #timer: NodeJS.Timeout

  constructor (c: { audit: AuditWrite, logger: Logger }, o: RefusalLogOptions) {
    this.#audit = c.audit
    this.#log = c.logger
    this.#o = { maxAddresses: 1000, ...o }
    this.#timer = setInterval(() => { this.flush() }, o.windowMs).unref()
  }

  /** One refusal: `action` is the audit action (`hive.join_refused`...), `peer` who asked, `address` its address key. */
  refused (action: string, peer: string, address: string, reason: string): void {
    const key = `${action} ${address}`
    const t = this.#tallies.get(key)
    if (t === undefined && this.#tallies.size < this.#o.maxAddresses && this.#written < this.#o.maxEntriesPerWindow) {
      this.#tallies.set(key, { suppressed: 0, peers: new Set(), reasons: new Map() })
      this.#written++
      this.#audit(action, peer, { reason, address })
      return
    }
    this.#log.debug({ action, peer_id: peer, address, reason }, 'refused a hive request (counted in the audit log\'s summary)')
    if (t === undefined) {
      this.#overflow.refused++
      if (this.#overflow.addresses.size < this.#o.maxAddresses) this.#overflow.addresses.add(address)
      return
    }
    t.suppressed++
    if (t.peers.size < MAX_PEERS_NAMED) t.peers.add(peer)
    t.reasons.set(reason, (t.reasons.get(reason) ?? 0) + 1)
  }

  /** Ends the window: writes the summaries of what was not written one by one. */
  flush (): void {
    const tallies = this.#tallies
    const overflow = this.#overflow
    this.#tallies = new Map()
    this.#overflow = { refused: 0, addresses: new Set() }
    this.#written = 0
    const windowS = Math.round(this.#o.windowMs / 1000)
    for (const [key, t] of tallies) {
      if (t.suppressed === 0) continue
      const [action, address] = key.split(' ') as [string, string]
      if (this.#written >= this.#o.maxEntriesPerWindow) {
        overflow.refused += t.suppressed
        overflow.addresses.add(address)
        continue
      }
      this.#written++
      this.#audit(action, address, { reason: 'repeated', refused: t.suppressed, window_s: windowS, reasons: Object.fromEntries(t.reasons), peers: [...t.peers] })
    }
    if (overflow.refused > 0) this.#audit('hive.refusals_suppressed', 'hive', { refused: overflow.refused, addresses: overflow.addresses.size, window_s: windowS })
  }

  stop (): void {
    clearInterval(this.#timer)
    this.flush()
  }
}
