import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { StartupError, messageOf } from '../shared/errors.ts'
import type { HiveApi } from './catalog.ts'

/** What a plugin module exports. */
export interface EdgeHivePlugin {
  register (hive: HiveApi): void | Promise<void>
}

function specifierOf (spec: string): string {
  // A path (./x.mjs, /opt/x.mjs, x.mjs) is loaded as a file; anything else as a package name.
  return spec.startsWith('.') || isAbsolute(spec) || /\.(m?js|ts)$/.test(spec) ? pathToFileURL(resolve(spec)).href : spec
}

/**
 * Loads each plugin module and lets it register its tools, resources and prompts. A plugin that
 * cannot be loaded or whose register() throws stops the start, naming the module and the reason:
 * a node that silently lacks what its operator configured is worse than one that does not start.
 */
export async function loadPlugins (specs: string[], hive: HiveApi): Promise<string[]> {
  const loaded: string[] = []
  for (const spec of specs) {
    let mod: Partial<EdgeHivePlugin> & { default?: Partial<EdgeHivePlugin> }
    try {
      mod = await import(specifierOf(spec)) as typeof mod
    } catch (err) {
      throw new StartupError('plugin', `plugin ${spec} could not be loaded: ${messageOf(err).split('\n')[0]}`, { cause: err })
    }
    const register = mod.register ?? mod.default?.register
    if (typeof register !== 'function') throw new StartupError('plugin', `plugin ${spec} does not export a register(hive) function`)
    try {
      await register(hive)
    } catch (err) {
      throw new StartupError('plugin', `plugin ${spec} failed in register(): ${messageOf(err).split('\n')[0]}`, { cause: err })
    }
    loaded.push(spec)
  }
  return loaded
}
