/** One notification of the node's stream: an id that only grows, a kind, and its data. */
export interface StreamEvent {
  id: number
  event: string
  data: Record<string, unknown>
}

/**
 * The node's notifications (log entries, resource updates, and peer events once the hive is
 * there) for the REST SSE route: a bounded ring of recent events, so a client that
 * reconnects with `Last-Event-ID` gets what it missed, if it is still kept.
 */
export class NotificationStream {
  readonly #events: StreamEvent[] = []
  readonly #listeners = new Set<(e: StreamEvent) => void>()
  readonly #enders = new Set<() => void>()
  readonly #keep: number
  #next = 1

  constructor (keep = 1000) {
    this.#keep = keep
  }

  publish (event: string, data: Record<string, unknown>): void {
    const e = { id: this.#next++, event, data }
    this.#events.push(e)
    if (this.#events.length > this.#keep) this.#events.shift()
    for (const l of this.#listeners) l(e)
  }

  /** Events after `lastId` still kept, oldest first. */
  since (lastId: number): StreamEvent[] {
    return this.#events.filter((e) => e.id > lastId)
  }

  /** `onEnd` is called when the node stops, so the stream can close its connection. */
  subscribe (listener: (e: StreamEvent) => void, onEnd?: () => void): () => void {
    this.#listeners.add(listener)
    if (onEnd !== undefined) this.#enders.add(onEnd)
    return () => { this.#listeners.delete(listener); if (onEnd !== undefined) this.#enders.delete(onEnd) }
  }

  /** Ends every open stream (at stop: open streams would otherwise hold the HTTP drain). */
  end (): void {
    for (const e of [...this.#enders]) e()
  }

  get listenerCount (): number {
    return this.#listeners.size
  }
}
