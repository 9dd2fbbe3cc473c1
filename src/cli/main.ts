#!/usr/bin/env node
// The `edge-hive` command. Kept to what must happen before any other module loads: loading the
// program's modules is most of what a command costs (measured: three quarters of a node's CPU
// time until it is ready, 0.8 s of `edge-hive --version`), so the first thing is Node's on-disk
// compile cache, which lets later runs skip compiling them again.
import { enableCompileCache } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

// Everything the CLI writes (keys, certificates, the store's files, credentials) is for its
// owner alone: a store outside the 0700 data dir, or a file a library creates later, included.
process.umask(0o077)

// The cache lives in the user's own cache directory (created 0700 under the umask above), not
// Node's default in the shared temporary directory. Node checks each entry against the source it
// was made from, so a changed install only misses the cache; NODE_COMPILE_CACHE chooses another
// directory and NODE_DISABLE_COMPILE_CACHE=1 turns it off. A cache that cannot be written (a
// read-only home) only costs the time it would have saved.
if (process.env.NODE_COMPILE_CACHE === undefined) {
  try {
    enableCompileCache(join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'edge-hive', 'compile'))
  } catch { /* no home directory: run without the cache */ }
}

await import('./program.ts')
