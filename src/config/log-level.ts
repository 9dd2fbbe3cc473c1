import { z } from 'zod'

import { LOG_LEVELS, type LogLevel } from '../shared/log-level.ts'

export { LOG_LEVELS, type LogLevel }

// The original design's compose file sets a RUST_LOG-style value (`info`, or `edge_hive=debug,libp2p=info`).
// We accept that syntax so those files work unchanged: a bare level is the default, and a
// directive for `edge_hive` (or `edge-hive`) wins over it. Directives for other targets are
// accepted and ignored, since no other target logs through us.
const ALIASES: Record<string, LogLevel> = { warning: 'warn', err: 'error', none: 'off', silent: 'off' }

function levelOf (word: string): LogLevel | undefined {
  const w = word.trim().toLowerCase()
  if ((LOG_LEVELS as readonly string[]).includes(w)) return w as LogLevel
  return ALIASES[w]
}

/** Parses a RUST_LOG-style directive list into our single level, or undefined when invalid. */
export function parseLogLevel (value: string): LogLevel | undefined {
  let fallback: LogLevel | undefined
  let ours: LogLevel | undefined
  const directives = value.split(',').map((d) => d.trim()).filter((d) => d !== '')
  if (directives.length === 0) return undefined
  for (const directive of directives) {
    const eq = directive.indexOf('=')
    if (eq === -1) {
      const level = levelOf(directive)
      if (level === undefined) return undefined
      fallback = level
      continue
    }
    const target = directive.slice(0, eq).trim()
    const level = levelOf(directive.slice(eq + 1))
    if (level === undefined || !/^[\w:.-]+$/.test(target)) return undefined
    if (target === 'edge_hive' || target === 'edge-hive') ours = level
  }
  return ours ?? fallback ?? 'info'
}

export function logLevel () {
  return z.string().transform((s, ctx) => {
    const level = parseLogLevel(s)
    if (level === undefined) { ctx.addIssue({ code: 'custom', message: 'bad level' }); return z.NEVER }
    return level
  })
}
