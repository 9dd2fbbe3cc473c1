import { randomUUID } from 'node:crypto'
import type { EventStore } from '@modelcontextprotocol/server'

type Message = Parameters<EventStore['storeEvent']>[1]

/**
 * Resumability for one session's SSE streams (`Last-Event-ID`). One store per session: the
 * SDK names every session's GET stream alike, so a store shared between sessions would replay
 * one session's events to another. Bounded: the oldest events are dropped past `maxEvents`.
 */
export class SessionEventStore implements EventStore {
  readonly #events = new Map<string, { streamId: string, message: Message }>()
  readonly #maxEvents: number

  constructor (maxEvents = 1000) {
    this.#maxEvents = maxEvents
  }

  async storeEvent (streamId: string, message: Message): Promise<string> {
    const id = `${streamId}_${Date.now()}_${randomUUID().slice(0, 8)}`
    this.#events.set(id, { streamId, message })
    if (this.#events.size > this.#maxEvents) this.#events.delete(this.#events.keys().next().value!)
    return id
  }

  async getStreamIdForEventId (eventId: string): Promise<string | undefined> {
    return this.#events.get(eventId)?.streamId
  }

  async replayEventsAfter (lastEventId: string, { send }: { send: (eventId: string, message: Message) => Promise<void> }): Promise<string> {
    const last = this.#events.get(lastEventId)
    if (last === undefined) return ''
    let after = false
    for (const [id, e] of this.#events) {
      if (id === lastEventId) { after = true; continue }
      if (after && e.streamId === last.streamId) await send(id, e.message)
    }
    return last.streamId
  }
}
