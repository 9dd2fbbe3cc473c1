import { readFileSync, statSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { messageOf } from '../shared/errors.ts'
import { ConfigError, type ConfigProblem } from './errors.ts'
import { SETTINGS, CONFIG_FILE_ENV, type Config, type SettingKey } from './settings.ts'

const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/** Where a setting's value came from, in words an operator recognises. */
export type SourceLabel = string

export interface ConfigInput {
  /** `--config <file>`; falls back to EDGE_HIVE_CONFIG. */
  configFile?: string | undefined
  env: Record<string, string | undefined>
  /** Values given as command-line flags, by setting key. */
  flags?: Partial<Record<SettingKey, unknown>>
}

export interface LoadedConfig {
  config: Config
  sources: Record<SettingKey, SourceLabel>
  configFile: string | undefined
}

function readConfigFile (file: string): Record<string, unknown> {
  const where = `config file ${file}`
  let body: string
  try {
    if (statSync(file).size > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigError([{ setting: 'config', source: where, message: `is larger than ${MAX_CONFIG_FILE_BYTES} bytes` }])
    }
    body = readFileSync(file, 'utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError([{ setting: 'config', source: where, message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}` }])
  }
  let doc: unknown
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both kinds of file.
    doc = parseYaml(body, { maxAliasCount: 100 })
  } catch (err) {
    throw new ConfigError([{ setting: 'config', source: where, message: `is neither valid JSON nor YAML: ${messageOf(err).split('\n')[0]}` }])
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError([{ setting: 'config', source: where, message: 'must hold a mapping of setting names to values' }])
  }
  return doc as Record<string, unknown>
}

function show (value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value)
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

/** Settings of earlier versions that are gone, and what to do instead. */
const RETIRED: Record<string, string> = {
  advertRefresh: 'is no longer a setting (since 0.2): a member\'s advert is its heartbeat, sent three times per peerOfflineAfter; remove it'
}
const RETIRED_ENV: Record<string, string> = { EDGE_HIVE_ADVERT_REFRESH: 'advertRefresh' }

/**
 * Resolves the configuration: built-in defaults, then the config file, then environment
 * variables, then flags (each later source wins). Throws a ConfigError that lists every
 * invalid or unknown setting with its source and what is allowed.
 */
export function loadConfig (input: ConfigInput): LoadedConfig {
  const problems: ConfigProblem[] = []
  const configFile = input.configFile ?? input.env[CONFIG_FILE_ENV]
  const fileValues = configFile === undefined ? {} : readConfigFile(configFile)

  const known = new Set<string>(SETTINGS.map((s) => s.key))
  for (const key of Object.keys(fileValues)) {
    if (RETIRED[key] !== undefined) {
      problems.push({ setting: key, source: `config file ${configFile}`, message: RETIRED[key] })
    } else if (!known.has(key)) {
      problems.push({ setting: key, source: `config file ${configFile}`, message: `is not a setting; known settings: ${[...known].join(', ')}` })
    }
  }
  const knownEnv = new Set([CONFIG_FILE_ENV, ...SETTINGS.map((s) => s.env)])
  for (const name of Object.keys(input.env)) {
    // A mistyped variable would otherwise be ignored without a word.
    const retired = RETIRED_ENV[name]
    if (retired !== undefined) {
      problems.push({ setting: name, source: 'environment', message: RETIRED[retired]! })
    } else if (name.startsWith('EDGE_HIVE_') && !knownEnv.has(name)) {
      problems.push({ setting: name, source: 'environment', message: 'is not a setting this version knows' })
    }
  }

  const config: Partial<Record<SettingKey, unknown>> = {}
  const sources = {} as Record<SettingKey, SourceLabel>
  for (const setting of SETTINGS) {
    let raw: unknown
    let source: SourceLabel | undefined
    if (fileValues[setting.key] !== undefined) { raw = fileValues[setting.key]; source = `config file ${configFile}` }
    const envValue = input.env[setting.env]
    if (envValue !== undefined && envValue !== '') { raw = envValue; source = `environment variable ${setting.env}` }
    const flagValue = input.flags?.[setting.key]
    if (flagValue !== undefined && setting.flag !== undefined) { raw = flagValue; source = `flag ${setting.flag.spec.split(' ')[0]}` }

    if (source === undefined) {
      sources[setting.key] = 'default'
      config[setting.key] = setting.default?.(config as Partial<Config>)
      continue
    }
    const parsed = setting.schema().safeParse(raw)
    if (!parsed.success) {
      const value = setting.secret === true ? 'the value given' : show(raw)
      problems.push({ setting: setting.key, source, message: `${value} is not allowed; expected ${setting.allowed}` })
      continue
    }
    sources[setting.key] = source
    config[setting.key] = parsed.data
  }

  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    const given = config.tlsCert === undefined ? 'tlsKey' : 'tlsCert'
    problems.push({ setting: given, source: sources[given], message: 'tlsCert and tlsKey must be given together' })
  }

  if (problems.length > 0) throw new ConfigError(problems)
  return { config: config as unknown as Config, sources, configFile }
}
