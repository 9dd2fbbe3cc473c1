import type { AuditEntry, AuditLog, AuditQuery } from '../store/index.ts'

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
interface Tally { action: string, source: string, refused: number, errors: Map<string, number>, actors: Set<string> }

const ACTORS_NAMED = 8

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
  readonly #o: RefusalAuditOptions
  readonly #onError: (err: unknown) => void
  #tallies = new Map<string, Tally>()
  #written = 0
  #overflow = { refused: 0, sources: new Set<string>() }
  readonly #timer: NodeJS.Timeout

  constructor (inner: AuditLog, options: Partial<RefusalAuditOptions> & { windowMs: number }, onError: (err: unknown) => void = () => undefined) {
    this.#inner = inner
    this.#o = { ...DEFAULT_REFUSAL_AUDIT, ...options }
    this.#onError = onError
    this.#timer = setInterval(() => { void this.flush() }, this.#o.windowMs).unref()
  }

  async append (entry: NewEntry): Promise<void> {
    if (entry.outcome !== 'failure') { await this.#inner.append(entry); return }
    const source = entry.source ?? 'unknown'
    const key = `${entry.action} ${source}`
    let t = this.#tallies.get(key)
    if (t === undefined) {
      if (this.#tallies.size >= this.#o.maxSources) { this.#overflowed(source); return }
      t = { action: entry.action, source, refused: 0, errors: new Map(), actors: new Set() }
      this.#tallies.set(key, t)
    }
    t.refused++
    if (t.refused <= this.#o.perSource && this.#written < this.#o.maxEntriesPerWindow) {
      this.#written++
      await this.#inner.append(entry)
      return
    }
    if (this.#written >= this.#o.maxEntriesPerWindow && t.refused <= this.#o.perSource) { this.#overflowed(source); t.refused--; return }
    const error = String(entry.detail?.error ?? entry.detail?.reason ?? 'unknown').slice(0, 64)
    t.errors.set(error, (t.errors.get(error) ?? 0) + 1)
    if (t.actors.size < ACTORS_NAMED) t.actors.add(entry.actor.slice(0, 200))
  }

  async list (query: AuditQuery): Promise<AuditEntry[]> {
    return await this.#inner.list(query)
  }

  async purge (policy: { before: Date, keep: number }): Promise<void> {
    await (this.#inner as { purge?: (p: { before: Date, keep: number }) => Promise<void> }).purge?.(policy)
  }

  /** Ends the window: writes what was summed. */
  async flush (): Promise<void> {
    const tallies = this.#tallies
    const overflow = this.#overflow
    this.#tallies = new Map()
    this.#overflow = { refused: 0, sources: new Set() }
    this.#written = 0
    const windowS = Math.round(this.#o.windowMs / 1000)
    const writes: Array<Promise<void>> = []
    for (const t of tallies.values()) {
      const summed = [...t.errors.values()].reduce((a, b) => a + b, 0)
      if (summed === 0) continue
      if (writes.length >= this.#o.maxEntriesPerWindow) {
        overflow.refused += summed
        overflow.sources.add(t.source)
        continue
      }
      writes.push(this.#inner.append({
        actor: 'node', action: t.action, source: t.source, outcome: 'failure',
        detail: { reason: 'repeated', refused: summed, window_s: windowS, errors: Object.fromEntries(t.errors), actors: [...t.actors] }
      }))
    }
    if (overflow.refused > 0) {
      writes.push(this.#inner.append({ actor: 'node', action: 'auth.refusals_suppressed', outcome: 'failure', detail: { refused: overflow.refused, sources: overflow.sources.size, window_s: windowS } }))
    }
    for (const r of await Promise.allSettled(writes)) if (r.status === 'rejected') this.#onError(r.reason)
  }

  /** Writes what is pending and stops the window timer. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
  }

  #overflowed (source: string): void {
    this.#overflow.refused++
    if (this.#overflow.sources.size < this.#o.maxSources) this.#overflow.sources.add(source)
  }
}
