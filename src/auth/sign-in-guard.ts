import { createHmac, randomBytes } from 'node:crypto'
import { sameSecret } from '../shared/hash.ts'

export interface SignInGuardOptions {
  /** Wrong passwords in a row from one address (or one trusted browser) before it is locked. */
  failuresBeforeLock: number
  /** The first lock; each further wrong password doubles it, up to `maxLockMs`. */
  lockMs: number
  maxLockMs: number
  /** Wrong passwords from all untrusted browsers together within `globalWindowMs` that lock them all. */
  globalFailures: number
  globalWindowMs: number
  /** Addresses and browsers remembered at most (the oldest are forgotten first). */
  maxTracked: number
  /** A source with no wrong password for this long is forgotten. */
  forgetAfterMs: number
  /** How long a browser stays trusted after the operator signed in with it. */
  trustedBrowserMs: number
}

export const DEFAULT_SIGN_IN_GUARD: SignInGuardOptions = {
  failuresBeforeLock: 5,
  lockMs: 60_000,
  maxLockMs: 60 * 60_000,
  globalFailures: 100,
  globalWindowMs: 15 * 60_000,
  maxTracked: 10_000,
  forgetAfterMs: 24 * 60 * 60_000,
  trustedBrowserMs: 30 * 24 * 60 * 60_000
}

/** Who is signing in: the source address key, and the trusted-browser token it presented, if any. */
export interface SignInSource {
  address: string
  browser?: string | undefined
}

/** Why a sign-in is refused without looking at the password: its address or browser, or everyone untrusted. */
export type LockScope = 'address' | 'browser' | 'global'

export interface Lock { scope: LockScope, retryAfterMs: number }

interface Record { failures: number, lockedUntil: number, lastFailure: number }

/**
 * Slows password guessing on the sign-in page without letting a stranger lock the operator out.
 *
 * - Per source address (the caller passes IPv6 as its /64): after `failuresBeforeLock` wrong
 *   passwords in a row, that address is locked for `lockMs`, doubled with each further wrong
 *   password, up to `maxLockMs`. A right password clears it. Other addresses are unaffected.
 * - A browser the operator signed in with gets a signed token (a cookie, set by the page); with
 *   it, wrong passwords count against that browser instead of its address, and the global lock
 *   does not apply (OWASP's "device cookies"): someone else's guessing, from anywhere, does not
 *   lock the operator's own browsers out.
 * - Globally, far above one address: `globalFailures` wrong passwords from untrusted browsers
 *   within `globalWindowMs` lock sign-in for all untrusted browsers until the oldest of them is
 *   `globalWindowMs` old. Attempts refused meanwhile are not checked and not counted, so the
 *   lock ends by itself; renewing it takes a fresh set of failures, from fresh addresses since
 *   each address locks after a few. It bounds distributed guessing; its cost, a new browser of
 *   the operator's waiting, is the trade-off (docs/security.md), and `edge-hive operator
 *   set-password` clears every lock.
 *
 * State is in memory: a restart clears it, as a restart is the operator's own act.
 */
export class SignInGuard {
  readonly #o: SignInGuardOptions
  readonly #key: Buffer
  readonly #sources = new Map<string, Record>()
  /** Times of the last `globalFailures` wrong passwords from untrusted browsers, oldest first. */
  #recent: number[] = []

  constructor (options: Partial<SignInGuardOptions> = {}, key: Buffer = randomBytes(32)) {
    this.#o = { ...DEFAULT_SIGN_IN_GUARD, ...options }
    this.#key = key
  }

  /** The lock that applies to this source now, if any. */
  check (who: SignInSource, now = Date.now()): Lock | undefined {
    const browser = this.#trusted(who.browser, now)
    const own = this.#sources.get(this.#id(who, browser))
    if (own !== undefined && now < own.lockedUntil) return { scope: browser === undefined ? 'address' : 'browser', retryAfterMs: own.lockedUntil - now }
    if (browser !== undefined) return undefined
    const global = this.#globalUntil(now)
    return global === undefined ? undefined : { scope: 'global', retryAfterMs: global - now }
  }

  /** A wrong password: counts it, and returns the lock it starts, if it starts one. */
  failed (who: SignInSource, now = Date.now()): Lock | undefined {
    const browser = this.#trusted(who.browser, now)
    const id = this.#id(who, browser)
    const r = this.#touch(id, now)
    r.failures++
    r.lastFailure = now
    if (browser === undefined) {
      this.#recent.push(now)
      if (this.#recent.length > this.#o.globalFailures) this.#recent.shift()
    }
    if (r.failures >= this.#o.failuresBeforeLock) {
      const ms = Math.min(this.#o.lockMs * 2 ** (r.failures - this.#o.failuresBeforeLock), this.#o.maxLockMs)
      r.lockedUntil = now + ms
      return { scope: browser === undefined ? 'address' : 'browser', retryAfterMs: ms }
    }
    const global = browser === undefined ? this.#globalUntil(now) : undefined
    return global === undefined ? undefined : { scope: 'global', retryAfterMs: global - now }
  }

  /** The right password: the source starts afresh, and gets a trusted-browser token to keep. */
  succeeded (who: SignInSource, now = Date.now()): string {
    this.#sources.delete(this.#id(who, this.#trusted(who.browser, now)))
    const id = randomBytes(16).toString('base64url')
    const until = String(now + this.#o.trustedBrowserMs)
    return `${id}.${until}.${this.#mac(`${id}.${until}`)}`
  }

  /** Forgets every failure and lock (the operator set the password). */
  clear (): void {
    this.#sources.clear()
    this.#recent = []
  }

  /** How long a trusted-browser token lasts, for its cookie. */
  get trustedBrowserMs (): number {
    return this.#o.trustedBrowserMs
  }

  #globalUntil (now: number): number | undefined {
    if (this.#recent.length < this.#o.globalFailures) return undefined
    const until = this.#recent[0]! + this.#o.globalWindowMs
    return now < until ? until : undefined
  }

  /** The browser id of a valid, unexpired token; undefined otherwise. */
  #trusted (token: string | undefined, now: number): string | undefined {
    if (token === undefined || token.length > 200) return undefined
    const [id, until, mac] = token.split('.')
    if (id === undefined || until === undefined || mac === undefined || !/^\d+$/.test(until) || Number(until) <= now) return undefined
    return sameSecret(mac, this.#mac(`${id}.${until}`)) ? id : undefined
  }

  #id (who: SignInSource, browser: string | undefined): string {
    return browser === undefined ? `address:${who.address}` : `browser:${browser}`
  }

  #mac (text: string): string {
    return createHmac('sha256', this.#key).update(`trusted-browser:${text}`).digest('base64url')
  }

  /** The source's record, created if new; the least recently failed are forgotten beyond the bound. */
  #touch (id: string, now: number): Record {
    let r = this.#sources.get(id)
    if (r !== undefined && now - r.lastFailure > this.#o.forgetAfterMs && now >= r.lockedUntil) r = undefined
    this.#sources.delete(id)
    r ??= { failures: 0, lockedUntil: 0, lastFailure: now }
    this.#sources.set(id, r) // Map order: most recently failed last
    while (this.#sources.size > this.#o.maxTracked) this.#sources.delete(this.#sources.keys().next().value!)
    return r
  }
}
