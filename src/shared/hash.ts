import { createHash, timingSafeEqual } from 'node:crypto'

/** SHA-256 of text or bytes, base64url: the form stored references, ids and hashes take here. */
export function sha256 (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url')
}

/**
 * Whether `given` is exactly `want`, in time that does not depend on where they differ (CSRF
 * tokens, MACs): anything but a string is never equal.
 */
export function sameSecret (given: unknown, want: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(want)
  return a.length === b.length && timingSafeEqual(a, b)
}
