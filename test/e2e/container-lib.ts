// What the two container test files share: container.test.ts (the Dockerfile, .dockerignore, the
// runtime stage rehearsed) and container-compose.test.ts (docker-compose.yml, docker/form-hive.mjs).
// The Dockerfile parsed, the CLI's own --help, and the configuration schema's settings; not a test.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SETTINGS, CONFIG_FILE_ENV, type SettingKey } from '../../src/config/index.ts'
import { CLI, runCli } from '../helpers/cli.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const at = (...p: string[]): string => join(ROOT, ...p)
export const read = (...p: string[]): string => readFileSync(at(...p), 'utf8')
/** Where the Dockerfile puts the app and where the distroless base keeps Node.js. */
export const APP = '/app'
export const IMAGE_NODE = '/nodejs/bin/node'

/**
 * Variables the files set that are not Edge Hive settings, and why each is there. Anything else
 * must be a setting of the configuration schema (or EDGE_HIVE_CONFIG).
 */
const NON_SETTINGS: Record<string, string> = {
  PATH: 'puts the edge-hive launcher (/app/docker/bin) and node (/nodejs/bin) on the path, for ENTRYPOINT ["edge-hive"] and the compose entrypoint',
  HOME: 'uid 1000 has no passwd entry in distroless; HOME=/data keeps every default under the volume',
  NODE_ENV: 'the conventional production marker for libraries that look at it; not read by Edge Hive',
  NODE_DISABLE_COMPILE_CACHE: 'no compile cache in the image: under HOME=/data it would sit on the data volume, and whoever can write the volume could plant code the node runs'
}

// ---- the Dockerfile, parsed ----

interface Instruction { cmd: string, args: string, stage: number }

/** Instructions in order, continuation lines joined, comments dropped, each with its stage index. */
function dockerfile (): Instruction[] {
  const out: Instruction[] = []
  let stage = -1
  let pending = ''
  for (const raw of read('Dockerfile').split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    if (line.endsWith('\\')) { pending += line.slice(0, -1) + ' '; continue }
    const text = (pending + line).trim()
    pending = ''
    if (text === '') continue
    const m = /^(\w+)\s+([\s\S]*)$/.exec(text)
    assert.ok(m !== null, `a Dockerfile line we can read: ${text}`)
    const cmd = m[1]!.toUpperCase()
    if (cmd === 'FROM') stage++
    out.push({ cmd, args: m[2]!, stage })
  }
  return out
}

export const DF = dockerfile()
export const STAGES = DF.filter((i) => i.cmd === 'FROM').map((i) => {
  const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)
  assert.ok(m !== null, `FROM ${i.args}`)
  return { image: m[1]!, name: m[2] }
})
export const RUNTIME = STAGES.length - 1
export const inRuntime = (cmd: string): Instruction[] => DF.filter((i) => i.cmd === cmd && i.stage === RUNTIME)
export const execForm = (text: string): string[] => {
  const argv = JSON.parse(text) as unknown
  assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === 'string'), `exec form: ${text}`)
  return argv as string[]
}
export const only = <T>(list: T[], what: string): T => { assert.equal(list.length, 1, `one ${what}`); return list[0]! }

/** ENV of the runtime stage: `K=V K2=V2` lines, plain values. */
export function runtimeEnv (): Record<string, string> {
  const env: Record<string, string> = {}
  for (const i of inRuntime('ENV')) {
    for (const pair of i.args.split(/\s+/).filter(Boolean)) {
      const eq = pair.indexOf('=')
      assert.ok(eq > 0 && !/["']/.test(pair), `ENV written as plain K=V pairs: ${pair}`)
      env[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
  }
  return env
}

/** COPY instructions of a stage (those before the instruction at index `before` of DF): options, sources, destination. */
export function copies (stage: number, before = DF.length): Array<{ from: string | undefined, sources: string[], dest: string, options: string[] }> {
  return DF.filter((i, at) => i.cmd === 'COPY' && i.stage === stage && at < before).map((i) => {
    const words = i.args.split(/\s+/).filter(Boolean)
    const options = words.filter((w) => w.startsWith('--'))
    const rest = words.filter((w) => !w.startsWith('--'))
    const from = options.find((o) => o.startsWith('--from='))?.slice('--from='.length)
    return { from, sources: rest.slice(0, -1), dest: rest.at(-1)!, options }
  })
}

export const HEALTHCHECK = ((): string[] => {
  const h = only(inRuntime('HEALTHCHECK'), 'HEALTHCHECK').args
  const m = /^((?:--[\w-]+=\S+\s+)*)CMD\s+(\[.*\])$/.exec(h)
  assert.ok(m !== null, `HEALTHCHECK [options] CMD [exec form]: ${h}`)
  return execForm(m[2]!)
})()

// ---- the CLI's own help ----

const helpCache = new Map<string, Set<string>>()
/** The long flags `edge-hive <command> --help` lists. */
async function flagsOf (command: string[]): Promise<Set<string>> {
  const key = command.join(' ')
  if (!helpCache.has(key)) {
    const r = await runCli([...command, '--help'])
    assert.equal(r.code, 0, `edge-hive ${key} --help: ${r.stderr}`)
    helpCache.set(key, new Set([...r.stdout.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!)))
  }
  return helpCache.get(key)!
}

/** The subcommand words at the start of an edge-hive command line, and its flags. */
function splitCommand (argv: string[]): { command: string[], flags: string[] } {
  const firstFlag = argv.findIndex((a) => a.startsWith('-'))
  const command = firstFlag === -1 ? argv : argv.slice(0, firstFlag)
  return { command, flags: argv.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!) }
}

export async function assertAccepted (argv: string[], where: string): Promise<void> {
  const { command, flags } = splitCommand(argv)
  const known = await flagsOf(command)
  for (const f of flags) assert.ok(known.has(f), `${where}: \`edge-hive ${command.join(' ')}\` has no flag ${f} (it has ${[...known].join(' ')})`)
}

/** The settings a `serve` command line gives, as loadConfig takes them (from the settings table's flag specs). */
export function flagValues (serveArgs: string[]): Partial<Record<SettingKey, unknown>> {
  const out: Partial<Record<SettingKey, unknown>> = {}
  for (let i = 1; i < serveArgs.length; i++) {
    const flag = serveArgs[i]!
    const s = SETTINGS.find((x) => x.flag?.spec.split(' ')[0] === flag)
    assert.ok(s?.flag !== undefined, `${flag} is a setting's flag`)
    if (!s.flag.spec.includes('<')) { out[s.key] = !flag.startsWith('--no-'); continue }
    const value = serveArgs[++i]
    assert.ok(value !== undefined, `${flag} has a value`)
    out[s.key] = s.flag.repeatable === true ? [...((out[s.key] as string[] | undefined) ?? []), value] : value
  }
  return out
}

/** Every variable is a setting (or EDGE_HIVE_CONFIG) or one of NON_SETTINGS. */
export function assertKnownVariables (env: Record<string, string>, where: string): void {
  const settings = new Set([CONFIG_FILE_ENV, ...SETTINGS.map((s) => s.env)])
  for (const name of Object.keys(env)) {
    assert.ok(settings.has(name) || name in NON_SETTINGS, `${where} sets ${name}, which is neither a setting nor a documented non-setting`)
  }
}

export const settingsOnly = (env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter(([k]) => !(k in NON_SETTINGS)))

// The CLI a test starts is the built one; make sure it is there (npm test builds first).
assert.ok(existsSync(CLI), 'dist/cli/main.js: run `npm run build` first')
