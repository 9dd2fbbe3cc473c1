// The CLI's compile cache (src/cli/main.ts): what it holds runs as the user, so it is written only
// in the user's own cache directory, and not where someone else could have written first.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, cleanEnv, tempDir, removeDir } from '../helpers/cli.ts'

/** Files Node wrote below `dir` (it writes one directory per Node version and flags). */
function entries (dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir, { recursive: true }).filter((f) => statSync(join(dir, String(f))).isFile()).length
}

/** Runs `edge-hive --version` with the cache directory rooted at `xdg`; NODE_COMPILE_CACHE unset. */
async function version (xdg: string, extra: Record<string, string> = {}): Promise<void> {
  const env = cleanEnv({ XDG_CACHE_HOME: xdg, ...extra })
  delete env.NODE_COMPILE_CACHE
  delete env.NODE_DISABLE_COMPILE_CACHE
  const r = await runCli(['--version'], { env })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^\d+\.\d+\.\d+/)
}

describe('CLI compile cache', () => {
  const dirs: string[] = []
  after(() => { for (const d of dirs) removeDir(d) })
  const fresh = (): string => { const d = tempDir('edge-hive-cache-test-'); dirs.push(d); return d }

  it('is written in the user\'s cache directory, private to the user', async () => {
    const xdg = fresh()
    await version(xdg)
    const dir = join(xdg, 'edge-hive', 'compile')
    assert.ok(entries(dir) > 0, 'the modules the command loaded were cached')
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    assert.equal(statSync(join(xdg, 'edge-hive')).mode & 0o777, 0o700)
  })

  it('is not used in a directory others may write to', async () => {
    const xdg = fresh()
    const dir = join(xdg, 'edge-hive', 'compile')
    mkdirSync(dir, { recursive: true })
    chmodSync(dir, 0o777)
    await version(xdg)
    assert.equal(entries(dir), 0, 'nothing written where another user could have planted entries')
  })

  it('is turned off by NODE_DISABLE_COMPILE_CACHE=1, as in the container image', async () => {
    const xdg = fresh()
    const env = cleanEnv({ XDG_CACHE_HOME: xdg, NODE_DISABLE_COMPILE_CACHE: '1' })
    delete env.NODE_COMPILE_CACHE
    const r = await runCli(['--version'], { env })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(entries(join(xdg, 'edge-hive', 'compile')), 0)
  })
})
