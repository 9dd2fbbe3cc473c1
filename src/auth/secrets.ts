import { randomBytes, timingSafeEqual } from 'node:crypto'
import { sha256 } from '../shared/hash.ts'

// 256 bits of randomness for secrets (RFC 6819 §5.1.4.2.2 asks for at least 128); the prefixes
// make a leaked value recognisable to secret scanners and to people.
const SECRET_BYTES = 32
const HASH_PREFIX = 'sha256$'

export function newClientId (): string {
  return `ehc_${randomBytes(16).toString('base64url')}`
}

export function newClientSecret (): string {
  return `ehs_${randomBytes(SECRET_BYTES).toString('base64url')}`
}

/**
 * The form a client secret is stored in (RFC 6819 §5.1.4.1.3: no secret in clear, so a copy of
 * the database yields nothing usable). A fast hash is enough here: the secret has 256 bits of
 * randomness, so there is nothing for a slow hash to protect against guessing.
 */
export function hashClientSecret (secret: string): string {
  return HASH_PREFIX + sha256(secret)
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches (presented: string, storedHash: string | undefined): boolean {
  if (storedHash === undefined || !storedHash.startsWith(HASH_PREFIX)) return false
  const a = Buffer.from(hashClientSecret(presented))
  const b = Buffer.from(storedHash)
  return a.length === b.length && timingSafeEqual(a, b)
}
