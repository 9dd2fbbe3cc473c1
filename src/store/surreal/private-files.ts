import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** The directory a file-backed store URL names (`surrealkv://path`, `surrealkv+versioned://path`); undefined for others. */
export function storePath (url: string): string | undefined {
  const m = /^surrealkv(?:\+\w+)?:\/\/(.+)$/.exec(url)
  return m?.[1]
}

/**
 * Makes a store's files readable by their owner alone (files 0600, folders 0700), wherever
 * the store is: one outside the data dir has no 0700 parent to hide it. Files the store makes
 * later are private through the process's umask (set by the CLI); this fixes stores made before.
 */
export function makePrivate (path: string): void {
  if (!existsSync(path)) return
  const walk = (p: string): void => {
    const st = statSync(p)
    if (st.isDirectory()) {
      if ((st.mode & 0o077) !== 0) chmodSync(p, 0o700)
      for (const name of readdirSync(p)) walk(join(p, name))
    } else if (st.isFile() && (st.mode & 0o077) !== 0) {
      chmodSync(p, 0o600)
    }
  }
  walk(path)
}
