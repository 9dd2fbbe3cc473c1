#!/usr/bin/env node
// The `edge-hive` command. Kept to what must happen before any other module loads: loading the
// program's modules is most of what a command costs (measured: three quarters of a node's CPU
// time until it is ready, 0.8 s of `edge-hive --version`), so the first thing is Node's on-disk
// compile cache, which lets later runs skip compiling them again.
import * as nodeModule from 'node:module'
import { existsSync, lstatSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileCachePath } from './compile-cache.ts'

// Everything the CLI writes (keys, certificates, the store's files, credentials) is for its
// owner alone: a store outside the 0700 data dir, or a file a library creates later, included.
process.umask(0o077)

/**
 * The compile cache's directory, or undefined when it cannot be trusted. Node checks an entry
 * only against corruption (a checksum), not against who wrote it, and what it holds runs as this
 * user: so only an absolute path in this user's own cache directory, owned by this user and
 * writable by no one else (a `sudo` that keeps HOME, or an empty HOME or XDG_CACHE_HOME making
 * the path relative, gets no cache).
 */
function cacheDir (): string | undefined {
  const path = compileCachePath()
  if (path === undefined) return undefined
  const { base, dir } = path
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const d of [dir, join(base, 'edge-hive'), base]) {
    const s = lstatSync(d)
    if (!s.isDirectory() || s.uid !== process.getuid?.() || (s.mode & 0o022) !== 0) return undefined
  }
  return dir
}

// `npm run build` empties this directory: Node never drops an entry, and the bundle's files are
// named by their content. NODE_COMPILE_CACHE chooses another directory (Node turns it on itself)
// and NODE_DISABLE_COMPILE_CACHE=1 turns it off. Node 22 before 22.8 has no compile cache. A cache
// that cannot be made only costs the time it would have saved.
if (process.env.NODE_COMPILE_CACHE === undefined && process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
  try {
    const dir = cacheDir()
    if (dir !== undefined) nodeModule.enableCompileCache?.(dir)
  } catch { /* no usable home directory: run without the cache */ }
}

// The build bundles the program and its dependencies (`npm run build`): resolving and reading
// about a thousand module files was most of what was left of a start once compiled code was
// cached (measured: a restart's CPU 1.6 s -> 1.05 s, 1.3 s -> 0.95 s to ready), and a few hundred
// of a light command's. What only `serve` needs sits in chunks the other commands never read.
// Without a build, the modules load one by one.
const bundle = new URL('./program.bundle.js', import.meta.url)
if (existsSync(fileURLToPath(bundle))) await import(bundle.href)
else await import('./program.ts')
