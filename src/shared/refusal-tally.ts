export interface RefusalTallyOptions {
  /** Refusals of one action from one source written one by one per window; the rest are summed. */
  perSource: number
  /** Entries written per window, one-by-one and summaries each, all sources together; beyond it everything is summed into one. */
  maxEntriesPerWindow: number
  /** Sources tracked per window; refusals from more go into the one overall summary. */
  maxSources: number
}

/** What one source's refusals of one action came to in a window, beyond those written one by one. */
export interface RefusalSummary {
  action: string
  source: string
  refused: number
  reasons: Record<string, number>
  /** A few of those who asked (at most NAMED), for the operator to recognise. */
  who: string[]
}

interface Tally { action: string, source: string, seen: number, summed: number, reasons: Map<string, number>, who: Set<string> }

const NAMED = 8

/**
 * The counting behind audit logs that a flood of refused requests must not fill (refused token
 * requests, refused hive joins and challenges): per window, the first `perSource` refusals of an
 * action from one source are written as they come, the others are summed per source, and once
 * `maxEntriesPerWindow` entries were written everything else goes into one overall count. The
 * source is what the caller cannot choose freely (its address), never a name it sends. Holds no
 * timer and writes nothing: its owner ends each window with `drain` and writes what it returns.
 */
export class RefusalTally {
  readonly #o: RefusalTallyOptions
  #tallies = new Map<string, Tally>()
  #written = 0
  #overflow = { refused: 0, sources: new Set<string>() }

  constructor (options: RefusalTallyOptions) {
    this.#o = options
  }

  /** Counts one refusal; true when it is to be written as its own entry now. */
  record (action: string, source: string, who: string, reason: string): boolean {
    const key = `${action} ${source}`
    let t = this.#tallies.get(key)
    if (t === undefined) {
      if (this.#tallies.size >= this.#o.maxSources) { this.#overflowed(source); return false }
      t = { action, source, seen: 0, summed: 0, reasons: new Map(), who: new Set() }
      this.#tallies.set(key, t)
    }
    if (t.seen < this.#o.perSource) {
      // One of the first from this source: written while the window has room, else only counted.
      if (this.#written >= this.#o.maxEntriesPerWindow) { this.#overflowed(source); return false }
      t.seen++
      this.#written++
      return true
    }
    t.summed++
    t.reasons.set(reason, (t.reasons.get(reason) ?? 0) + 1)
    if (t.who.size < NAMED) t.who.add(who)
    return false
  }

  /** Ends the window: the per-source summaries there is room for, and the overall count of the rest. */
  drain (): { summaries: RefusalSummary[], overflow: { refused: number, sources: number } } {
    const tallies = this.#tallies
    const overflow = this.#overflow
    this.#tallies = new Map()
    this.#overflow = { refused: 0, sources: new Set() }
    this.#written = 0
    const summaries: RefusalSummary[] = []
    for (const t of tallies.values()) {
      if (t.summed === 0) continue
      if (summaries.length >= this.#o.maxEntriesPerWindow) {
        overflow.refused += t.summed
        overflow.sources.add(t.source)
        continue
      }
      summaries.push({ action: t.action, source: t.source, refused: t.summed, reasons: Object.fromEntries(t.reasons), who: [...t.who] })
    }
    return { summaries, overflow: { refused: overflow.refused, sources: overflow.sources.size } }
  }

  #overflowed (source: string): void {
    this.#overflow.refused++
    if (this.#overflow.sources.size < this.#o.maxSources) this.#overflow.sources.add(source)
  }
}
