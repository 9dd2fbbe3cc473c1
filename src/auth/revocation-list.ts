import type { RevocationRepository } from '../store/index.ts'

const MAX_ENTRIES = 1_000_000

/**
 * The access tokens withdrawn before their expiry, by `jti`. Kept in memory so that checking a
 * token costs no database round trip, and in the store so that a restart forgets nothing.
 * Entries leave once the token would have expired anyway.
 */
export class RevocationList {
  readonly #repo: RevocationRepository
  readonly #byJti = new Map<string, number>() // jti -> expiry (ms)
  readonly #listeners = new Set<() => void>()

  constructor (repo: RevocationRepository) {
    this.#repo = repo
  }

  async load (now = new Date()): Promise<void> {
    for (const t of await this.#repo.listActive(now)) this.#byJti.set(t.jti, t.expiresAt.getTime())
  }

  async revoke (jti: string, clientId: string, expiresAt: Date): Promise<void> {
    if (expiresAt.getTime() <= Date.now()) return // expired already: nothing to remember
    if (this.#byJti.size >= MAX_ENTRIES) this.prune()
    await this.#repo.add({ jti, clientId, expiresAt })
    this.#byJti.set(jti, expiresAt.getTime())
    for (const l of this.#listeners) l()
  }

  /** `listener` runs after each revocation: open streams re-check their tokens then. */
  onRevoked (listener: () => void): void {
    this.#listeners.add(listener)
  }

  isRevoked (jti: string): boolean {
    return this.#byJti.has(jti)
  }

  /** Forgets revocations of tokens that have expired; returns how many. */
  prune (now = Date.now()): number {
    let n = 0
    for (const [jti, exp] of this.#byJti) {
      if (exp <= now) { this.#byJti.delete(jti); n++ }
    }
    return n
  }

  get size (): number {
    return this.#byJti.size
  }
}
