import type { Logger } from '../shared/logger.ts'
import { RefusalTally } from '../shared/refusal-tally.ts'

/** Writes one audit entry (the hive's `audit` component). */
export type AuditWrite = (action: string, target: string, detail?: Record<string, unknown>) => void

export interface RefusalLogOptions {
  windowMs: number
  /** Audit entries written per window for refusals, all addresses together; the rest are summed into one. */
  maxEntriesPerWindow: number
  /** Addresses tracked per window; refusals from more are summed into the global summary only. */
  maxAddresses?: number
}

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
  readonly #windowMs: number
  readonly #tally: RefusalTally
  readonly #timer: NodeJS.Timeout

  constructor (c: { audit: AuditWrite, logger: Logger }, o: RefusalLogOptions) {
    this.#audit = c.audit
    this.#log = c.logger
    this.#windowMs = o.windowMs
    this.#tally = new RefusalTally({ perSource: 1, maxEntriesPerWindow: o.maxEntriesPerWindow, maxSources: o.maxAddresses ?? 1000 })
    this.#timer = setInterval(() => { this.flush() }, o.windowMs).unref()
  }

  /** One refusal: `action` is the audit action (`hive.join_refused`...), `peer` who asked, `address` its address key. */
  refused (action: string, peer: string, address: string, reason: string): void {
    if (this.#tally.record(action, address, peer, reason)) {
      this.#audit(action, peer, { reason, address })
      return
    }
    this.#log.debug({ action, peer_id: peer, address, reason }, 'refused a hive request (counted in the audit log\'s summary)')
  }

  /** Ends the window: writes the summaries of what was not written one by one. */
  flush (): void {
    const { summaries, overflow } = this.#tally.drain()
    const windowS = Math.round(this.#windowMs / 1000)
    for (const t of summaries) {
      this.#audit(t.action, t.source, { reason: 'repeated', refused: t.refused, window_s: windowS, reasons: t.reasons, peers: t.who })
    }
    if (overflow.refused > 0) this.#audit('hive.refusals_suppressed', 'hive', { refused: overflow.refused, addresses: overflow.sources, window_s: windowS })
  }

  stop (): void {
    clearInterval(this.#timer)
    this.flush()
  }
}
