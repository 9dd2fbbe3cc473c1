import { homedir } from 'node:os'
import { SETTINGS, type Config, type Setting, type SettingKey } from './settings.ts'
import { formatDuration } from './values.ts'

/** Defaults that depend on the machine or on other settings, said in words instead of one machine's value. */
const IN_WORDS: Partial<Record<SettingKey, string>> = {
  nodeName: 'the machine\'s host name',
  publicUrl: 'from host and port',
  oauth2Issuer: 'the public URL',
  store: 'surrealkv://<data dir>/db (embedded)',
  tlsCert: 'a self-signed certificate made at first start',
  tlsKey: 'the key of the self-signed certificate'
}

function isDuration (s: Setting): boolean {
  return s.allowed.startsWith('a duration')
}

function format (s: Setting, v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(String).join(', ')
  if (typeof v === 'number' && isDuration(s)) return formatDuration(v)
  if (s.key === 'dataDir' && typeof v === 'string' && v.startsWith(homedir())) return `~${v.slice(homedir().length)}`
  return String(v)
}

/**
 * Each setting's default as a person reads it (for `--help` and the configuration reference),
 * resolved in table order as the node resolves it when nothing is set; undefined: no default.
 */
export function shownDefaults (): Map<SettingKey, string | undefined> {
  const resolved: Partial<Config> = {}
  const out = new Map<SettingKey, string | undefined>()
  for (const s of SETTINGS) {
    const v = s.default?.(resolved)
    if (v !== undefined) (resolved as Record<string, unknown>)[s.key] = v
    out.set(s.key, s.secret === true ? undefined : IN_WORDS[s.key] ?? format(s, v))
  }
  return out
}

/**
 * The configuration reference (docs/configuration.md), made from the settings table so the two
 * cannot drift apart: `npm run docs` writes it, and a test fails when the file is out of date.
 */
export function configurationReference (): string {
  const defaults = shownDefaults()
  const cell = (t: string): string => t.replace(/\|/g, '\\|')
  const rows = SETTINGS.map((s) => {
    const d = defaults.get(s.key)
    const flag = s.flag === undefined ? '—' : `\`${s.flag.spec}\``
    const shown = d === undefined ? 'none' : IN_WORDS[s.key] !== undefined ? d : d.split(', ').map((x) => `\`${x}\``).join(', ')
    const secret = s.secret === true ? ' Secret: never printed, and not a flag (a flag is visible in `ps`).' : ''
    return `| \`${s.key}\` | \`${s.env}\` | ${flag} | ${cell(shown)} | ${cell(s.description)} Allowed: ${cell(s.allowed)}.${secret} |`
  })
  return [
    '# Configuration',
    '',
    '<!-- Made from src/config/settings.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every setting can come from four places; a later one wins: the defaults below, a config file',
    '(`--config <file>` or `EDGE_HIVE_CONFIG`; JSON or YAML, keys as in the first column),',
    'environment variables, and the flags of `edge-hive serve`. An invalid value, an unknown key in',
    'a config file and an unknown `EDGE_HIVE_*` variable stop the program before it creates or binds',
    'anything, with exit code 2 and a message naming the setting, where the value came from and what',
    'is allowed. Durations are written like `90s`, `10m`, `1h` or `30d`.',
    '',
    '| setting (config file key) | environment | flag of `serve` | default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    ''
  ].join('\n')
}

/**
 * A value as the console may show it: in anything that reads as a URL, the user part and the
 * query (where credentials and API keys go) are hidden.
 */
function withoutCredentials (text: string): string {
  return text.split(', ').map((part) => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(part)) return part
    try {
      const u = new URL(part)
      const auth = u.username !== '' || u.password !== '' ? '***@' : ''
      return `${u.protocol}//${auth}${u.host}${u.pathname === '/' && !part.endsWith('/') ? '' : u.pathname}${u.search === '' ? '' : '?***'}`
    } catch {
      return '*** (not shown: not a valid URL)'
    }
  }).join(', ')
}

/**
 * The settings a node runs with, as people read them (the console's "settings in effect"):
 * secrets left out, and credentials in URLs hidden.
 */
export function settingsInEffect (config: Config): Array<[SettingKey, string]> {
  const out: Array<[SettingKey, string]> = []
  for (const s of SETTINGS) {
    if (s.secret === true) continue
    const shown = format(s, config[s.key])
    out.push([s.key, shown === undefined ? '—' : withoutCredentials(shown)])
  }
  return out
}
