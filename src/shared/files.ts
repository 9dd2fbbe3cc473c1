import { closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'

/**
 * Writes a file atomically (temp file, then rename) with the given mode, so a crash never
 * leaves a half-written key or certificate behind. The temp file has an unguessable name and is
 * created exclusively (`wx`: never through a link someone planted), its mode set on the open
 * file; the rename replaces the target itself, never what a link there points to.
 */
export function writeFileAtomic (file: string, data: string | Uint8Array, mode: number): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  const fd = openSync(tmp, 'wx', mode)
  try {
    fchmodSync(fd, mode)
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at)
  } catch (err) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw err
  }
  closeSync(fd)
  renameSync(tmp, file)
}
