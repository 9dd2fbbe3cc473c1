import { randomBytes } from 'node:crypto'
import { sameSecret, sha256 } from '../../shared/hash.ts'

export interface ConsoleSessionOptions {
  /** A session not used for this long ends. */
  idleMs: number
  /** Every session ends this long after sign-in, used or not. */
  maxAgeMs: number
  /** Sessions held at once; signing in beyond this ends the least recently used one. */
  max: number
}

export interface ConsoleSession {
  /** The SHA-256 of the cookie value: names the session (quotas, logs) without being it. */
  key: string
  /** The token every form of this session carries (the double-submit of OWASP's synchronizer pattern). */
  csrf: string
  createdAt: number
  lastUsed: number
  /**
   * A page to show once at /console/shown (a new secret, an invitation): the form that made it
   * redirects there, so a reload does not send the form again. Dropped once shown or stale.
   */
  shown?: { page: ShownPage, until: number } | undefined
}

export interface ShownPage { title: string, section: 'hive' | 'agents', body: string }

/**
 * The operator's console sign-ins, in memory: a restart signs everyone out, as does setting the
 * password. The browser holds a random id in an HttpOnly cookie; the node keeps only its
 * SHA-256, so a heap dump or a debug print of this map gives no working cookie.
 */
export class ConsoleSessions {
  readonly #o: ConsoleSessionOptions
  readonly #byHash = new Map<string, ConsoleSession>()

  constructor (options: ConsoleSessionOptions) {
    this.#o = options
  }

  /** A new session: returns the cookie value, which is not kept. */
  open (now = Date.now()): { id: string, session: ConsoleSession } {
    const id = randomBytes(32).toString('base64url')
    const session = { key: sha256(id), csrf: randomBytes(32).toString('base64url'), createdAt: now, lastUsed: now }
    this.#byHash.set(session.key, session)
    // Map order is insertion order, and use re-inserts: the first entry is the least recently used.
    while (this.#byHash.size > this.#o.max) this.#byHash.delete(this.#byHash.keys().next().value!)
    return { id, session }
  }

  /**
   * The live session of a cookie value, or undefined (unknown, idle too long, too old). `use`
   * counts as the operator's activity; a page's live refresh passes false, so an open tab does
   * not keep a sign-in alive forever.
   */
  find (id: string | undefined, now = Date.now(), use = true): ConsoleSession | undefined {
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined
    const key = sha256(id)
    const s = this.#byHash.get(key)
    if (s === undefined) return undefined
    if (now - s.lastUsed >= this.#o.idleMs || now - s.createdAt >= this.#o.maxAgeMs) {
      this.#byHash.delete(key)
      return undefined
    }
    if (use) {
      s.lastUsed = now
      this.#byHash.delete(key)
      this.#byHash.set(key, s)
    }
    return s
  }

  /** Whether a form's token is this session's (constant time). */
  static csrfMatches (s: ConsoleSession, given: unknown): boolean {
    return sameSecret(given, s.csrf)
  }

  close (id: string | undefined): void {
    if (id !== undefined) this.#byHash.delete(sha256(id))
  }

  /** Signs everyone out (the password changed). */
  clear (): void {
    this.#byHash.clear()
  }
}
