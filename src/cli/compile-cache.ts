import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'

/**
 * Where the CLI keeps Node's compile cache: `<XDG_CACHE_HOME or ~/.cache>/edge-hive/compile`
 * (`dir`) below the user's cache directory (`base`); undefined when an empty HOME or
 * XDG_CACHE_HOME would make the path relative. The CLI uses it (src/cli/main.ts) and the build
 * empties it (scripts/build-bundle.ts).
 */
export function compileCachePath (): { base: string, dir: string } | undefined {
  const xdg = process.env.XDG_CACHE_HOME
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache')
  return isAbsolute(base) ? { base, dir: join(base, 'edge-hive', 'compile') } : undefined
}
