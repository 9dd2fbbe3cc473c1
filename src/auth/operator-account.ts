import { randomBytes } from 'node:crypto'
import { argon2id, argon2Verify } from 'hash-wasm'
import type { OperatorRepository } from '../store/index.ts'
import { EdgeError } from '../shared/errors.ts'
import { SignInGuard, type Lock, type SignInGuardOptions, type SignInSource } from './sign-in-guard.ts'

export const MIN_PASSWORD_LENGTH = 12
export const MAX_PASSWORD_LENGTH = 1024
// OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): slow for a guesser, fine for one person.
const ARGON2 = { parallelism: 1, iterations: 2, memorySize: 19_456, hashLength: 32 }

/**
 * `ok` carries the trusted-browser token for the page to keep in a cookie. `wrong` may carry the
 * lock this failure started; `locked` is a refusal without a look at the password.
 */
export type SignInOutcome =
  | { ok: true, trustedBrowser: string }
  | { ok: false, reason: 'unset' }
  | { ok: false, reason: 'wrong', lock?: Lock | undefined }
  | { ok: false, reason: 'locked', lock: Lock }

export function checkPassword (password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new EdgeError('password', `The password must have ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`)
  }
}

export async function hashPassword (password: string): Promise<string> {
  checkPassword(password)
  return await argon2id({ password, salt: randomBytes(16), ...ARGON2, outputType: 'encoded' })
}

/**
 * The node's one operator account: an Argon2id hash in the store, and sign-in attempts slowed
 * per source address with a growing lock, and globally far above that (see SignInGuard).
 */
export class OperatorAccount {
  readonly #repo: OperatorRepository
  readonly #guard: SignInGuard

  constructor (repo: OperatorRepository, guard: Partial<SignInGuardOptions> = {}) {
    this.#repo = repo
    this.#guard = new SignInGuard(guard)
  }

  async isSet (): Promise<boolean> {
    return (await this.#repo.get()) !== undefined
  }

  /** Sets the password; every sign-in lock is lifted (the operator's own act, from the CLI or the API). */
  async setPassword (password: string): Promise<void> {
    await this.#repo.set({ passwordHash: await hashPassword(password), updatedAt: new Date() })
    this.#guard.clear()
  }

  /** How long a trusted-browser token lasts. */
  get trustedBrowserMs (): number {
    return this.#guard.trustedBrowserMs
  }

  async signIn (password: string, from: SignInSource, now = Date.now()): Promise<SignInOutcome> {
    // A locked source is refused before Argon2 runs: guessing costs the node nothing then.
    const lock = this.#guard.check(from, now)
    if (lock !== undefined) return { ok: false, reason: 'locked', lock }
    const account = await this.#repo.get()
    if (account === undefined) return { ok: false, reason: 'unset' }
    const ok = password.length <= MAX_PASSWORD_LENGTH && await argon2Verify({ password, hash: account.passwordHash })
    if (ok) return { ok: true, trustedBrowser: this.#guard.succeeded(from, now) }
    return { ok: false, reason: 'wrong', lock: this.#guard.failed(from, now) }
  }
}
