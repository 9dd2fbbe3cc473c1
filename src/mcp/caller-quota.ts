import type { Caller } from './catalog.ts'

/** Why a caller could not have another session or stream. */
export type QuotaRefusal = 'client_limit' | 'full'

/**
 * A count of long-lived things (MCP sessions, notification streams) held open at once, capped
 * in all and per client. The client id comes from a verified token, so a caller cannot spread
 * itself over many keys without the operator having made many clients. A tenth of the total is
 * kept for callers holding `mcp:admin`: one ordinary client, or many, cannot lock the operator
 * out of its own node.
 */
export class CallerQuota {
  readonly #total: number
  readonly #perClient: number
  readonly #reserved: number
  readonly #byClient = new Map<string, number>()
  #held = 0

  constructor (options: { total: number, perClient: number }) {
    this.#total = options.total
    this.#perClient = options.perClient
    this.#reserved = options.total >= 10 ? Math.floor(options.total / 10) : 0
  }

  /** Takes one place for the caller; returns how to give it back, or why there is none. */
  acquire (caller: Caller): { ok: true, release: () => void } | { ok: false, reason: QuotaRefusal } {
    const mine = this.#byClient.get(caller.clientId) ?? 0
    if (mine >= this.#perClient) return { ok: false, reason: 'client_limit' }
    const limit = caller.scopes.includes('mcp:admin') ? this.#total : this.#total - this.#reserved
    if (this.#held >= limit) return { ok: false, reason: 'full' }
    this.#held++
    this.#byClient.set(caller.clientId, mine + 1)
    let released = false
    return {
      ok: true,
      release: () => {
        if (released) return
        released = true
        this.#held--
        const n = (this.#byClient.get(caller.clientId) ?? 1) - 1
        if (n <= 0) this.#byClient.delete(caller.clientId)
        else this.#byClient.set(caller.clientId, n)
      }
    }
  }
}

/** The words a refused caller reads. */
export function quotaMessage (reason: QuotaRefusal, what: string): string {
  return reason === 'client_limit'
    ? `This client has as many ${what} open as it may; close one first.`
    : `Too many ${what} are open on this node; try again later.`
}
