import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../../src/shared/files.ts'

describe('writeFileAtomic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-hive-files-'))
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes the whole content with the mode asked for, and leaves no temp file', () => {
    const file = join(dir, 'secret.json')
    writeFileAtomic(file, 'x'.repeat(100_000), 0o600)
    assert.equal(readFileSync(file, 'utf8').length, 100_000)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.deepEqual(readdirSync(dir), ['secret.json'])
  })

  it('replaces a link at the target instead of writing through it', () => {
    const elsewhere = join(dir, 'elsewhere.txt')
    writeFileSync(elsewhere, 'untouched')
    const file = join(dir, 'config.json')
    symlinkSync(elsewhere, file)
    writeFileAtomic(file, '{"secret":1}', 0o600)
    assert.equal(readFileSync(elsewhere, 'utf8'), 'untouched', 'the link\'s target is not written')
    assert.equal(lstatSync(file).isSymbolicLink(), false)
    assert.equal(readFileSync(file, 'utf8'), '{"secret":1}')
  })
})
