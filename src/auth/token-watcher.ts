import { decodeJwt } from 'jose'
import type { VerifyResult } from './token-verifier.ts'

export type TokenEnd = 'expired' | 'revoked'

interface Watched {
  /** The token's `exp` in ms (read once, when the first watch starts). */
  expMs: number
  timer: NodeJS.Timeout | undefined
  listeners: Set<(why: TokenEnd) => void>
}

/** A token's `exp` in ms; 0 for one that cannot be read (so it ends at once). */
function expiryOf (token: string): number {
  try {
    const exp = Number(decodeJwt(token).exp) * 1000
    return Number.isFinite(exp) ? exp : 0
  } catch {
    return 0
  }
}

/** setTimeout's longest delay (about 24.8 days); longer waits re-arm. */
const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * Tells long-lived things (SSE streams, MCP sessions) when the token that opened them stops
 * being good, so that no stream outlives the right that created it: at the token's `exp`, and
 * at once when a revocation (of the token, its grant or its client) makes the verifier refuse
 * it. Watches of one token share one timer; a re-check verifies each watched token once.
 */
export class TokenWatcher {
  readonly #verify: (token: string) => Promise<VerifyResult>
  readonly #watched = new Map<string, Watched>()

  constructor (verify: (token: string) => Promise<VerifyResult>) {
    this.#verify = verify
  }

  /** Calls `onEnd` once when `token` (verified already by the caller) ends; returns how to stop watching. */
  watch (token: string, onEnd: (why: TokenEnd) => void): () => void {
    let w = this.#watched.get(token)
    if (w === undefined) {
      w = { expMs: expiryOf(token), timer: undefined, listeners: new Set() }
      this.#watched.set(token, w)
      this.#arm(token, w)
    }
    // A wrapper of its own per watch: the same onEnd watched twice is two watches.
    const once = (why: TokenEnd): void => { onEnd(why) }
    w.listeners.add(once)
    return () => {
      const cur = this.#watched.get(token)
      if (cur === undefined) return
      cur.listeners.delete(once)
      if (cur.listeners.size === 0) this.#drop(token, cur)
    }
  }

  #arm (token: string, w: Watched): void {
    const wait = w.expMs - Date.now()
    if (wait > MAX_DELAY_MS) {
      w.timer = setTimeout(() => { this.#arm(token, w) }, MAX_DELAY_MS).unref()
      return
    }
    // unref: a watch alone must not keep a stopping process alive; open sockets do that.
    w.timer = setTimeout(() => { this.#end(token, 'expired') }, Math.max(0, wait)).unref()
  }

  #drop (token: string, w: Watched): void {
    clearTimeout(w.timer)
    this.#watched.delete(token)
  }

  #end (token: string, why: TokenEnd): void {
    const w = this.#watched.get(token)
    if (w === undefined) return
    this.#drop(token, w)
    for (const l of [...w.listeners]) {
      try { l(why) } catch { /* one listener's failure must not keep the others open */ }
    }
  }

  /** Verifies every watched token again (after a revocation) and ends those now refused. */
  async recheck (): Promise<void> {
    for (const token of [...this.#watched.keys()]) {
      const r = await this.#verify(token)
      const w = this.#watched.get(token)
      if (!r.ok && w !== undefined) this.#end(token, Date.now() >= w.expMs ? 'expired' : 'revoked')
    }
  }
}
