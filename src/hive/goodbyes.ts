/** A peer that said goodbye is not suspected when its connection closes within this long. */
const BYE_MS = 30_000
/** How long after a member's connection closed its goodbye may still arrive. */
const BYE_SETTLE_MS = 1000
/** Goodbyes remembered at most. */
const MAX_BYES = 1024

export interface GoodbyeComponents {
  /** Whether this node has an open connection to the peer now. */
  connected (peer: string): boolean
  /** The member went without a goodbye: the hive hears of it (and the member, if alive, answers). */
  suspect (peer: string): void
  stopped (): boolean
}

/**
 * Which closed member connections are news: a member that closes on purpose (it keeps fewer
 * connections, or stops) says goodbye first, and so does this node before it closes one itself;
 * any other close of the last connection to a proven member may mean it is down, and the hive is
 * told. The check waits a moment after the close: the goodbye is sent just before the close,
 * and the close can arrive before the goodbye has been read (measured, 30 nodes: every
 * connection trimmed by the degree keeping was taken for a failure, and answered with an advert
 * by the member suspected).
 */
export class Goodbyes {
  readonly #c: GoodbyeComponents
  readonly #byes = new Map<string, number>()

  constructor (c: GoodbyeComponents) {
    this.#c = c
  }

  /** The connection to `peer` closes on purpose (it said goodbye, or this node is closing it). */
  saw (peer: string): void {
    if (this.#byes.size >= MAX_BYES) this.#byes.clear()
    this.#byes.set(peer, Date.now())
  }

  /** The last connection to a proven member closed. */
  closed (peer: string): void {
    if (this.#c.stopped()) return
    setTimeout(() => {
      const bye = this.#byes.get(peer)
      this.#byes.delete(peer)
      if (this.#c.stopped() || this.#c.connected(peer) || (bye !== undefined && Date.now() - bye <= BYE_MS)) return
      this.#c.suspect(peer)
    }, BYE_SETTLE_MS).unref()
  }
}
