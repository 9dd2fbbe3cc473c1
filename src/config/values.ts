import { z } from 'zod'

// Value types shared by settings. Environment variables and flags arrive as text, a config
// file may hold real numbers and booleans, so every type accepts both and normalises.

const wholeNumberText = z.string().trim().regex(/^\d+$/).transform(Number)

/** A whole number in [min, max]. */
export function integer (min: number, max: number) {
  return z.union([z.number(), wholeNumberText]).pipe(z.number().int().min(min).max(max))
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])

/** true/false, 1/0, yes/no, on/off. */
export function boolean () {
  return z.union([
    z.boolean(),
    z.string().trim().toLowerCase().refine((s) => TRUE.has(s) || FALSE.has(s)).transform((s) => TRUE.has(s))
  ])
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses `500ms`, `30s`, `15m`, `1h`, `7d`; a bare number is seconds. Returns milliseconds or undefined. */
export function parseDuration (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!)
}

/** A duration in milliseconds the way the settings take it, in the largest whole unit: `90s`, `10m`, `30d`. */
export function formatDuration (ms: number): string {
  const units = Object.entries(UNIT_MS).sort(([, a], [, b]) => b - a)
  const [unit, n] = units.find(([, n]) => ms >= n && ms % n === 0) ?? ['ms', 1]
  return `${ms / n}${unit}`
}

/** A duration in milliseconds within [minMs, maxMs]; a number in a config file is seconds. */
export function duration (minMs: number, maxMs: number) {
  return z.union([z.number().transform((n) => n * 1000), z.string().transform((s, ctx) => {
    const ms = parseDuration(s)
    if (ms === undefined) { ctx.addIssue({ code: 'custom', message: 'not a duration' }); return z.NEVER }
    return ms
  })]).pipe(z.number().int().min(minMs).max(maxMs))
}

/** Non-empty printable text of at most `max` characters. */
export function text (max: number) {
  // No control characters: they would end up in logs, banners and HTTP headers.
  return z.string().trim().min(1).max(max).regex(/^[^\p{Cc}]+$/u)
}

/** An absolute URL using one of `protocols` (each like `https:`), with no credentials, query or fragment. */
export function url (protocols: string[]) {
  return z.string().trim().refine((s) => {
    if (!URL.canParse(s)) return false
    const u = new URL(s)
    return protocols.includes(u.protocol) && u.username === '' && u.password === '' && u.search === '' && u.hash === ''
  }).transform((s) => s.replace(/\/+$/, ''))
}

/** A host name or IP address to bind or connect to. */
export function host () {
  return z.string().trim().regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]+)$/).max(253)
}

/** A file system path (not resolved here). */
export function path () {
  return z.string().trim().min(1).max(4096)
}

/** A list: an array in a config file, repeated flags, or comma-separated text in the environment. */
export function list (item: z.ZodType<string, string>, maxItems: number) {
  return z.union([z.array(z.string()), z.string().transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''))])
    .pipe(z.array(item).max(maxItems))
}
