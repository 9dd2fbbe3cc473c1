/** One minute's counts: its start (ms since the epoch) and what happened in it. */
export interface MinuteCounts { minute: number, toolCalls: number, refused: number }

/**
 * Tool calls and refused requests per minute over the last `minutes`, for the console's chart.
 * A fixed ring of slots, one per minute: memory does not grow with traffic, and counting is a
 * few arithmetic operations on the request path.
 */
export class MinuteTally {
  readonly minutes: number
  readonly #slots: MinuteCounts[]

  constructor (minutes = 30) {
    this.minutes = minutes
    this.#slots = Array.from({ length: minutes }, () => ({ minute: -1, toolCalls: 0, refused: 0 }))
  }

  count (kind: 'toolCalls' | 'refused', now = Date.now()): void {
    const minute = Math.floor(now / 60_000) * 60_000
    const slot = this.#slots[(minute / 60_000) % this.minutes]!
    if (slot.minute !== minute) Object.assign(slot, { minute, toolCalls: 0, refused: 0 })
    slot[kind]++
  }

  /** The last `minutes` minutes, oldest first, the current one last; quiet minutes count zero. */
  recent (now = Date.now()): MinuteCounts[] {
    const current = Math.floor(now / 60_000) * 60_000
    const out: MinuteCounts[] = []
    for (let i = this.minutes - 1; i >= 0; i--) {
      const minute = current - i * 60_000
      const slot = this.#slots[(minute / 60_000) % this.minutes]!
      out.push(slot.minute === minute ? { ...slot } : { minute, toolCalls: 0, refused: 0 })
    }
    return out
  }
}
