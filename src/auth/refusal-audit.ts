import type { AuditEntry, AuditLog, AuditQuery } from '../store/index.ts'
import { RefusalTally } from '../shared/refusal-tally.ts'

export interface RefusalAuditOptions {
  /** Refusals are counted per source in windows of this length. */
  windowMs: number
  /** Refusals of one action from one source written one by one per window; the rest are summed. */
  perSource: number
  /** Entries written per window for refusals, all sources together; beyond it everything is summed. */
  maxEntriesPerWindow: number
  /** Sources tracked per window; refusals from more go into the one overall summary. */
  maxSources: number
}

export const DEFAULT_REFUSAL_AUDIT: Omit<RefusalAuditOptions, 'windowMs'> = { perSource: 3, maxEntriesPerWindow: 100, maxSources: 1000 }

type NewEntry = Omit<AuditEntry, 'at'> & { at?: Date }

/**
 * The audit log as the authorization server writes to it, with its refusals (entries whose
 * outcome is `failure`, e.g. `token.refused`) aggregated, so that a flood of bad requests
 * cannot push real events out of the log: per window, the first `perSource` refusals of an
 * action from one source address are written as they come, the others are summed into one
 * entry (`detail.refused`, `detail.errors`) when the window ends, and past
 * `maxEntriesPerWindow` everything goes into one `auth.refusals_suppressed` entry. Keyed by
 * source address, not by the client id a request names: client ids are free to make up.
 * Everything else passes through unchanged.
 */
export class RefusalAudit implements AuditLog {
  readonly #inner: AuditLog
  readonly #windowMs: number
  readonly #tally: RefusalTally
  readonly #onError: (err: unknown) => void
  readonly #timer: NodeJS.Timeout

  constructor (inner: AuditLog, options: Partial<RefusalAuditOptions> & { windowMs: number }, onError: (err: unknown) => void = () => undefined) {
    this.#inner = inner
    const o = { ...DEFAULT_REFUSAL_AUDIT, ...options }
    this.#windowMs = o.windowMs
    this.#tally = new RefusalTally(o)
    this.#onError = onError
    this.#timer = setInterval(() => { void this.flush() }, o.windowMs).unref()
  }

  async append (entry: NewEntry): Promise<void> {
    if (entry.outcome !== 'failure') { await this.#inner.append(entry); return }
    const reason = String(entry.detail?.error ?? entry.detail?.reason ?? 'unknown').slice(0, 64)
    if (this.#tally.record(entry.action, entry.source ?? 'unknown', entry.actor.slice(0, 200), reason)) await this.#inner.append(entry)
  }

  async list (query: AuditQuery): Promise<AuditEntry[]> {
    return await this.#inner.list(query)
  }

  async purge (policy: { before: Date, keep: number }): Promise<void> {
    await this.#inner.purge(policy)
  }

  /** Ends the window: writes what was summed. */
  async flush (): Promise<void> {
    const { summaries, overflow } = this.#tally.drain()
    const windowS = Math.round(this.#windowMs / 1000)
    const writes = summaries.map(async (t) => await this.#inner.append({
      actor: 'node', action: t.action, source: t.source, outcome: 'failure',
      detail: { reason: 'repeated', refused: t.refused, window_s: windowS, errors: t.reasons, actors: t.who }
    }))
    if (overflow.refused > 0) {
      writes.push(this.#inner.append({ actor: 'node', action: 'auth.refusals_suppressed', outcome: 'failure', detail: { refused: overflow.refused, sources: overflow.sources, window_s: windowS } }))
    }
    for (const r of await Promise.allSettled(writes)) if (r.status === 'rejected') this.#onError(r.reason)
  }

  /** Writes what is pending and stops the window timer. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
  }
}
