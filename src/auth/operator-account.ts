import { randomBytes } from 'node:crypto'
import { argon2id, argon2Verify } from 'hash-wasm'
import type { OperatorRepository } from '../store/index.ts'
import { EdgeError } from '../shared/errors.ts'

export const MIN_PASSWORD_LENGTH = 12
export const MAX_PASSWORD_LENGTH = 1024
/** Consecutive failed sign-ins before the account locks, and for how long. */
export const MAX_FAILURES = 5
export const LOCKOUT_MS = 15 * 60_000

// OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): slow for a guesser, fine for one person.
const ARGON2 = { parallelism: 1, iterations: 2, memorySize: 19_456, hashLength: 32 }

export type SignInOutcome = { ok: true } | { ok: false, reason: 'unset' | 'wrong' | 'locked', retryAfterMs?: number }

export function checkPassword (password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new EdgeError('ERR_PASSWORD', `The password must have ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`, { status: 400 })
  }
}

export async function hashPassword (password: string): Promise<string> {
  checkPassword(password)
  return await argon2id({ password, salt: randomBytes(16), ...ARGON2, outputType: 'encoded' })
}

/**
 * The node's one operator account: an Argon2id hash in the store, and a lockout after
 * MAX_FAILURES wrong passwords in a row (kept in memory: a restart clears it, as a restart
 * is the operator's own act).
 */
export class OperatorAccount {
  readonly #repo: OperatorRepository
  #failures = 0
  #lockedUntil = 0

  constructor (repo: OperatorRepository) {
    this.#repo = repo
  }

  async isSet (): Promise<boolean> {
    return (await this.#repo.get()) !== undefined
  }

  async setPassword (password: string): Promise<void> {
    await this.#repo.set({ passwordHash: await hashPassword(password), updatedAt: new Date() })
    this.#failures = 0
    this.#lockedUntil = 0
  }

  async signIn (password: string, now = Date.now()): Promise<SignInOutcome> {
    if (now < this.#lockedUntil) return { ok: false, reason: 'locked', retryAfterMs: this.#lockedUntil - now }
    const account = await this.#repo.get()
    if (account === undefined) return { ok: false, reason: 'unset' }
    const ok = password.length <= MAX_PASSWORD_LENGTH && await argon2Verify({ password, hash: account.passwordHash })
    if (ok) {
      this.#failures = 0
      return { ok: true }
    }
    this.#failures++
    if (this.#failures >= MAX_FAILURES) {
      this.#lockedUntil = now + LOCKOUT_MS
      this.#failures = 0
      return { ok: false, reason: 'locked', retryAfterMs: LOCKOUT_MS }
    }
    return { ok: false, reason: 'wrong' }
  }
}
