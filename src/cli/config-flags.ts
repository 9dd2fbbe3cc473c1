import type { Command } from 'commander'
import { SETTINGS, loadConfig, shownDefaults, type LoadedConfig, type Setting, type SettingKey } from '../config/index.ts'

/** A flag's help: what it does, its default (not for switches: off unless given), its environment variable. */
function helpOf (s: Setting & { flag: NonNullable<Setting['flag']> }, defaults: Map<SettingKey, string | undefined>): string {
  const shown = s.flag.spec.includes('<') ? defaults.get(s.key) : undefined
  return `${s.flag.help ?? s.description}${shown === undefined ? '' : ` (default: ${shown})`} (env: ${s.env})`
}

/** The defaults as `--help` shows them: worked out once, for all the subcommands that take flags. */
let defaultsShown: Map<SettingKey, string | undefined> | undefined

/** Adds every setting that has a flag to `cmd`, plus `--config`, from the one settings table. */
export function addSettingFlags (cmd: Command, only?: SettingKey[]): Command {
  cmd.option('--config <file>', 'read settings from a JSON or YAML file (env: EDGE_HIVE_CONFIG)')
  const defaults = defaultsShown ??= shownDefaults()
  for (const s of SETTINGS) {
    if (s.flag === undefined || (only !== undefined && !only.includes(s.key))) continue
    const help = helpOf(s as Setting & { flag: NonNullable<Setting['flag']> }, defaults)
    if (s.flag.repeatable === true) {
      cmd.option(s.flag.spec, help, (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    } else {
      cmd.option(s.flag.spec, help)
    }
  }
  return cmd
}

/** Resolves the configuration with the flags actually typed on this command line. */
export function configFromCommand (cmd: Command, env: Record<string, string | undefined> = process.env): LoadedConfig {
  const opts = cmd.opts<Record<string, unknown>>()
  const flags: Partial<Record<SettingKey, unknown>> = {}
  for (const s of SETTINGS) {
    // Only flags given on the command line; commander's implied values (--no-x => x=true) are not.
    if (s.flag !== undefined && cmd.getOptionValueSource(s.flag.attr) === 'cli') flags[s.key] = opts[s.flag.attr]
  }
  return loadConfig({ configFile: opts.config as string | undefined, env, flags })
}
