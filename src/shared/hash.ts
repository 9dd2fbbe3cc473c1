import { createHash } from 'node:crypto'

/** SHA-256 of text or bytes, base64url: the form stored references, ids and hashes take here. */
export function sha256 (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url')
}
