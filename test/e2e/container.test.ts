import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { SETTINGS, CONFIG_FILE_ENV, loadConfig, type SettingKey } from '../../src/config/index.ts'
import { CLI, Fleet, cleanEnv, diesWithParent, runCli, tempDir, removeDir, type ReadyLine } from '../helpers/cli.ts'
import { lines, readyLineOf } from '../../scripts/lib/node-process.ts'
import { eventually } from '../helpers/eventually.ts'

// The container files checked without a container engine: what can be checked here is checked
// against the real thing (the CLI's own --help, the configuration schema, real nodes on loopback,
// a copy of the runtime stage's /app with production dependencies only). No --discovery: these
// tests send no multicast.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const at = (...p: string[]): string => join(ROOT, ...p)
const read = (...p: string[]): string => readFileSync(at(...p), 'utf8')
const FORM_HIVE = at('docker', 'form-hive.mjs')
const LAUNCHER = at('docker', 'bin', 'edge-hive')
const READ_AUDIT = at('test', 'fixtures', 'read-audit.ts')
/** Where the Dockerfile puts the app and where the distroless base keeps Node.js. */
const APP = '/app'
const IMAGE_NODE = '/nodejs/bin/node'

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

const DF = dockerfile()
const STAGES = DF.filter((i) => i.cmd === 'FROM').map((i) => {
  const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)
  assert.ok(m !== null, `FROM ${i.args}`)
  return { image: m[1]!, name: m[2] }
})
const RUNTIME = STAGES.length - 1
const inRuntime = (cmd: string): Instruction[] => DF.filter((i) => i.cmd === cmd && i.stage === RUNTIME)
const execForm = (text: string): string[] => {
  const argv = JSON.parse(text) as unknown
  assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === 'string'), `exec form: ${text}`)
  return argv as string[]
}
const only = <T>(list: T[], what: string): T => { assert.equal(list.length, 1, `one ${what}`); return list[0]! }

/** ENV of the runtime stage: `K=V K2=V2` lines, plain values. */
function runtimeEnv (): Record<string, string> {
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

/** COPY instructions: options, sources, destination. */
function copies (stage: number): Array<{ from: string | undefined, sources: string[], dest: string, options: string[] }> {
  return DF.filter((i) => i.cmd === 'COPY' && i.stage === stage).map((i) => {
    const words = i.args.split(/\s+/).filter(Boolean)
    const options = words.filter((w) => w.startsWith('--'))
    const rest = words.filter((w) => !w.startsWith('--'))
    const from = options.find((o) => o.startsWith('--from='))?.slice('--from='.length)
    return { from, sources: rest.slice(0, -1), dest: rest.at(-1)!, options }
  })
}

const HEALTHCHECK = ((): string[] => {
  const h = only(inRuntime('HEALTHCHECK'), 'HEALTHCHECK').args
  const m = /^((?:--[\w-]+=\S+\s+)*)CMD\s+(\[.*\])$/.exec(h)
  assert.ok(m !== null, `HEALTHCHECK [options] CMD [exec form]: ${h}`)
  return execForm(m[2]!)
})()

// ---- the compose file, parsed ----

interface Service {
  image?: string, build?: unknown, entrypoint?: string[], command?: string[], environment?: Record<string, string>
  ports?: string[], volumes?: string[], networks?: Record<string, { ipv4_address?: string }>, hostname?: string
  healthcheck?: { test?: string[] }, depends_on?: Record<string, { condition?: string }>
}
interface Compose {
  services: Record<string, Service>, volumes?: Record<string, unknown>
  networks?: Record<string, { driver?: string, ipam?: { config?: Array<{ subnet?: string, gateway?: string }> } }>
}
const COMPOSE = parseYaml(read('docker-compose.yml'), { merge: true }) as Compose
const SERVICES = ['node1', 'node2', 'node3']

// The compose commands are read by the script's own parser.
interface FormOptions { mode: string, dir: string, names: string[], serveArgs: string[] }
const { parseCommandLine, CALLS } = await import(FORM_HIVE) as {
  parseCommandLine: (argv: string[]) => FormOptions
  CALLS: { status: () => string[], members: () => string[], init: () => string[], invite: (ttl: string) => string[] }
}
const parseForm = (s: Service): FormOptions => parseCommandLine(s.command ?? [])

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

async function assertAccepted (argv: string[], where: string): Promise<void> {
  const { command, flags } = splitCommand(argv)
  const known = await flagsOf(command)
  for (const f of flags) assert.ok(known.has(f), `${where}: \`edge-hive ${command.join(' ')}\` has no flag ${f} (it has ${[...known].join(' ')})`)
}

/** The settings a `serve` command line gives, as loadConfig takes them (from the settings table's flag specs). */
function flagValues (serveArgs: string[]): Partial<Record<SettingKey, unknown>> {
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
function assertKnownVariables (env: Record<string, string>, where: string): void {
  const settings = new Set([CONFIG_FILE_ENV, ...SETTINGS.map((s) => s.env)])
  for (const name of Object.keys(env)) {
    assert.ok(settings.has(name) || name in NON_SETTINGS, `${where} sets ${name}, which is neither a setting nor a documented non-setting`)
  }
}

const settingsOnly = (env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter(([k]) => !(k in NON_SETTINGS)))

// ---- .dockerignore, with Docker's rules ----

/** Go's filepath.Match for one path, with `**` for any number of directories (as Docker's pattern matcher). */
function globToRegExp (pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*' && pattern[i + 1] === '*') {
      i++
      if (pattern[i + 1] === '/') { i++; re += '(?:.*/)?' } else re += '.*'
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '\\') re += '\\' + pattern[++i]!
    else re += c.replace(/[.+^${}()|[\]]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/**
 * Whether .dockerignore leaves `path` out of the build context: the last pattern that matches the
 * path or one of its parent directories decides; `!` patterns let paths back in.
 */
function ignored (patterns: string[], path: string): boolean {
  const rules = patterns.map((p) => {
    const negate = p.startsWith('!')
    const body = posix.normalize((negate ? p.slice(1) : p).trim().replace(/^\/+/, '')).replace(/\/+$/, '')
    return { negate, re: globToRegExp(body) }
  })
  const parts = path.split('/')
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let out = false
  for (const r of rules) if (candidates.some((c) => r.re.test(c))) out = !r.negate
  return out
}

const DOCKERIGNORE = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))

// ---- running things ----

const until = async <T>(ms: number, readValue: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> => await eventually(readValue, ok, ms)

const modeOf = (path: string): number => statSync(path).mode & 0o777

/** docker/form-hive.mjs as a child process, with everything it and its node print. */
class FormHive {
  readonly child: ChildProcess
  out = ''
  err = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>

  constructor (args: string[], env: Record<string, string>) {
    const argv = diesWithParent([process.execPath, FORM_HIVE, ...args])
    this.child = spawn(argv.cmd, argv.args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.on('data', (d: Buffer) => { this.out += d.toString() })
    this.child.stderr!.on('data', (d: Buffer) => { this.err += d.toString() })
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })))
  }

  /** The pids of the nodes it started (from their JSON log lines). */
  nodePids (): number[] {
    return [...new Set([...this.out.matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])))].filter((p) => p !== this.child.pid)
  }

  async stop (): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    return await this.exited
  }

  /** For `after`: the script and, should it be gone first, the nodes it started (by pid). */
  async kill (): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM')
      const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000)
      await this.exited
      clearTimeout(t)
    }
    for (const pid of this.nodePids()) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  }
}

/** Form-hive scripts and temp dirs of one describe block, all gone after it (also when a test fails). */
function formHarness (): { run: (args: string[], env?: Record<string, string>) => FormHive, dir: () => string } {
  const scripts: FormHive[] = []
  const dirs: string[] = []
  after(async () => {
    for (const s of scripts) await s.kill()
    for (const d of dirs) removeDir(d)
  })
  return {
    run: (args, env = {}) => { const f = new FormHive(args, cleanEnv(env)); scripts.push(f); return f },
    dir: () => { const d = tempDir('edge-hive-form-'); dirs.push(d); return d }
  }
}

/** Loopback-only serve flags for a test node (no multicast, free ports). */
const loopbackServe = (dataDir: string, store = `surrealkv://${join(dataDir, 'db')}`): string[] =>
  ['serve', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--store', store, '--p2p-listen', '/ip4/127.0.0.1/tcp/0']

interface Members { hive_id: string | null, members: Array<{ peer_id: string, self: boolean, status: string }> }
const membersOf = async (dataDir: string): Promise<Members | undefined> => {
  const r = await runCli(['hive', 'members', '--json', '--data-dir', dataDir], { timeoutMs: 60_000 })
  return r.code === 0 ? JSON.parse(r.stdout) as Members : undefined
}

// =====================================================================================

describe('Dockerfile', () => {
  it('builds on Node.js 22 with glibc (Debian 12) and runs on distroless Node.js 22, Debian 12', () => {
    assert.ok(STAGES.length >= 2, 'multi-stage')
    assert.match(STAGES[0]!.image, /^node:22-bookworm(-slim)?$/, 'build stage: Node.js 22 on Debian 12 (bookworm), glibc')
    assert.equal(STAGES[RUNTIME]!.image, 'gcr.io/distroless/nodejs22-debian12', 'runtime: distroless Node.js 22 on Debian 12, the same glibc as the build stage')
    const build = DF.filter((i) => i.stage === 0 && i.cmd === 'RUN').map((i) => i.args).join('\n')
    assert.match(build, /\bnpm ci\b/)
    assert.match(build, /\bnpm prune --omit=dev\b/)
    assert.match(build, /node docker\/prune-node-modules\.mjs \/app/)
  })

  it('the runtime stage takes only package.json, production node_modules, dist and docker/ from the build stage', () => {
    const c = copies(RUNTIME)
    assert.ok(c.length > 0)
    for (const { from, sources } of c) {
      assert.equal(from, STAGES[0]!.name, `runtime COPY comes from the build stage, not the context: ${sources.join(' ')}`)
      for (const s of sources) assert.ok(['/app/package.json', '/app/node_modules', '/app/dist', '/app/docker'].includes(s), `copies ${s}`)
    }
    assert.equal(only(inRuntime('WORKDIR'), 'WORKDIR').args, APP)
  })

  it('paths the build stage copies from the context exist, pass .dockerignore, and the runtime paths exist after the build', () => {
    for (const { from, sources } of copies(0)) {
      assert.equal(from, undefined)
      for (const s of sources) {
        assert.ok(existsSync(at(s)), `${s} exists in the repository`)
        assert.ok(!ignored(DOCKERIGNORE, s.replace(/\/$/, '')), `${s} is in the build context`)
      }
    }
    // Runtime sources are /app/<path> of the build stage, i.e. <path> of the repo after `npm run build`.
    for (const { sources } of copies(RUNTIME)) for (const s of sources) assert.ok(existsSync(at(s.slice(APP.length + 1))), `${s} exists after the build`)
    for (const p of ['dist/cli/main.js', 'docker/form-hive.mjs', 'docker/bin/edge-hive', 'docker/prune-node-modules.mjs']) assert.ok(existsSync(at(p)), p)
  })

  it('runs as uid/gid 1000 with /data as its volume, and exposes HTTPS, libp2p TCP and QUIC, and mDNS', () => {
    assert.equal(only(inRuntime('USER'), 'USER').args, '1000:1000')
    assert.deepEqual(execForm(only(inRuntime('VOLUME'), 'VOLUME').args), ['/data'])
    assert.deepEqual(only(inRuntime('EXPOSE'), 'EXPOSE').args.split(/\s+/).sort(), ['4001/tcp', '4001/udp', '5353/udp', '8080/tcp'])
    // /data and /invitations are made (owned by 1000) before USER, so named volumes inherit them.
    const userAt = DF.findIndex((i) => i.stage === RUNTIME && i.cmd === 'USER')
    const mkdirAt = DF.findIndex((i) => i.stage === RUNTIME && i.cmd === 'RUN' && i.args.includes("'/data'") && i.args.includes('chownSync'))
    assert.ok(mkdirAt !== -1 && mkdirAt < userAt, '/data and /invitations are made and handed to uid 1000 while still root')
  })

  it('every variable it sets is a setting or a documented non-setting, and the settings are valid', () => {
    const env = runtimeEnv()
    assertKnownVariables(env, 'Dockerfile ENV')
    assert.equal(env.EDGE_HIVE_DATA_DIR, '/data/.edge-hive')
    assert.equal(env.EDGE_HIVE_HOST, '0.0.0.0')
    const { config } = loadConfig({ env: settingsOnly(env) })
    assert.equal(config.dataDir, '/data/.edge-hive')
    assert.equal(config.host, '0.0.0.0')
    // PATH finds the launcher and node where the image has them.
    const path = env.PATH!.split(':')
    assert.ok(path.includes(`${APP}/docker/bin`) && path.includes(posix.dirname(IMAGE_NODE)))
  })

  it('ENTRYPOINT ["edge-hive"] with its CMD is a serve command line the real CLI accepts, with valid values', async () => {
    assert.deepEqual(execForm(only(inRuntime('ENTRYPOINT'), 'ENTRYPOINT').args), ['edge-hive'])
    const cmd = execForm(only(inRuntime('CMD'), 'CMD').args)
    assert.deepEqual(cmd, ['serve', '--port', '8080', '--discovery'])
    await assertAccepted(cmd, 'CMD')
    const { config } = loadConfig({ env: settingsOnly(runtimeEnv()), flags: flagValues(cmd) })
    assert.equal(config.port, 8080)
    assert.equal(config.discovery, true)
  })

  it('HEALTHCHECK runs `edge-hive status --json` in exec form with the image\'s node: exit 0 for a ready node, 1 once it stopped', async () => {
    assert.equal(HEALTHCHECK[0], IMAGE_NODE)
    assert.equal(HEALTHCHECK[1], `${APP}/dist/cli/main.js`)
    assert.deepEqual(HEALTHCHECK.slice(2), ['status', '--json'])
    await assertAccepted(HEALTHCHECK.slice(2), 'HEALTHCHECK')
    // The same command, with this machine's node and repo, against a real node found by EDGE_HIVE_DATA_DIR as in the image.
    const fleet = new Fleet()
    try {
      const n = await fleet.start()
      const argv = [at(HEALTHCHECK[1]!.slice(APP.length + 1)), ...HEALTHCHECK.slice(2)]
      const check = (): Promise<{ code: number | null, stdout: string }> => new Promise((resolve) => {
        const c = spawn(process.execPath, argv, { env: cleanEnv({ EDGE_HIVE_DATA_DIR: n.dataDir }), stdio: ['ignore', 'pipe', 'ignore'] })
        let stdout = ''
        c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
        c.on('close', (code) => resolve({ code, stdout }))
      })
      const healthy = await check()
      assert.equal(healthy.code, 0, healthy.stdout)
      assert.equal((JSON.parse(healthy.stdout) as { status: string }).status, 'ready')
      await n.stop()
      const gone = await check()
      assert.equal(gone.code, 1)
      assert.equal((JSON.parse(gone.stdout) as { status: string }).status, 'not_running')
    } finally {
      await fleet.cleanup()
    }
  })

  it('`edge-hive` on the image\'s PATH is an executable launcher for the image\'s node that starts the real CLI', async () => {
    assert.ok((statSync(LAUNCHER).mode & 0o111) !== 0, 'docker/bin/edge-hive is executable')
    const [shebang, ...rest] = readFileSync(LAUNCHER, 'utf8').split('\n')
    assert.equal(shebang, `#!${IMAGE_NODE}`, 'names distroless\'s node: there is no /usr/bin/env there')
    const pkg = JSON.parse(read('package.json')) as { version: string }
    // 1. As the image runs it, but with this machine's node: node <launcher> <args>.
    const direct = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, [LAUNCHER, '--version'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      c.stdout.on('data', (d: Buffer) => { out += d.toString() })
      c.on('close', (code) => code === 0 ? resolve(out) : reject(new Error(`exit ${code}`)))
    })
    assert.equal(direct.trim(), pkg.version)
    // 2. Found on PATH by name and started by the kernel through its first line, as for ENTRYPOINT
    // ["edge-hive"]: a copy whose first line names this machine's node, in an /app-like tree.
    const dir = tempDir('edge-hive-launcher-')
    try {
      mkdirSync(join(dir, 'app', 'docker', 'bin'), { recursive: true })
      symlinkSync(at('dist'), join(dir, 'app', 'dist'))
      const copy = join(dir, 'app', 'docker', 'bin', 'edge-hive')
      writeFileSync(copy, [`#!${process.execPath}`, ...rest].join('\n'))
      chmodSync(copy, 0o755)
      const r = await new Promise<{ code: number | null, out: string }>((resolve) => {
        const c = spawn('edge-hive', ['hive', '--help'], { env: cleanEnv({ PATH: `${join(dir, 'app', 'docker', 'bin')}:/usr/bin:/bin` }), stdio: ['ignore', 'pipe', 'inherit'] })
        let out = ''
        c.stdout.on('data', (d: Buffer) => { out += d.toString() })
        c.on('close', (code) => resolve({ code, out }))
      })
      assert.equal(r.code, 0)
      assert.match(r.out, /Usage: edge-hive hive/)
    } finally {
      removeDir(dir)
    }
  })
})

describe('.dockerignore', () => {
  it('follows Docker\'s rules as this test reads them (last match wins, parents count, ! lets back in)', () => {
    assert.equal(ignored(['*', '!src'], 'src/a/b.ts'), false)
    assert.equal(ignored(['*', '!src'], 'other/b.ts'), true)
    assert.equal(ignored(['*', '!src', '**/*.log'], 'src/x/y.log'), true)
    assert.equal(ignored(['node_modules'], 'node_modules/a/index.js'), true)
    assert.equal(ignored([], 'anything'), false)
  })

  it('keeps node_modules, dist, .git, data dirs, logs, tests, bench results and invitations out of the build context', () => {
    const out = [
      'node_modules', 'node_modules/yaml/package.json', 'dist/cli/main.js', '.git/HEAD', '.edge-hive/identity.key',
      'src/.edge-hive/identity.key', 'npm-debug.log', 'src/server.log', 'docker/out.log', 'test/e2e/container.test.ts',
      'bench/results/run.json', 'scripts/local-hive.ts', '.env', 'README.md', 'src/node_modules/x.js', 'docker/node2.invitation.json',
      'docker/node2.joined.json', 'profile.cpuprofile', 'tsconfig.tsbuildinfo'
    ]
    for (const p of out) assert.ok(ignored(DOCKERIGNORE, p), `${p} stays out of the build context`)
  })

  it('lets in what the build needs', () => {
    const inside = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/node.ts', 'src/cli/main.ts',
      'docker/form-hive.mjs', 'docker/bin/edge-hive', 'docker/prune-node-modules.mjs']
    for (const p of inside) assert.ok(!ignored(DOCKERIGNORE, p), `${p} is in the build context`)
    // Every file the build stage's COPY sources hold, as they are in the repository now.
    const walk = (rel: string): string[] => statSync(at(rel)).isDirectory() ? readdirSync(at(rel)).flatMap((n) => walk(`${rel}/${n}`)) : [rel]
    for (const { from, sources } of copies(0)) {
      if (from !== undefined) continue
      for (const s of sources) for (const f of walk(s.replace(/\/$/, ''))) assert.ok(!ignored(DOCKERIGNORE, f), `${f} reaches the build`)
    }
  })
})

describe('docker-compose.yml', () => {
  it('parses and has node1, node2 and node3, built from this Dockerfile, with named volumes on a bridge network with its own subnet', () => {
    assert.deepEqual(Object.keys(COMPOSE.services).sort(), SERVICES)
    const networks = Object.entries(COMPOSE.networks ?? {})
    assert.equal(networks.length, 1)
    const [netName, net] = networks[0]!
    assert.equal(net.driver, 'bridge')
    const subnet = net.ipam?.config?.[0]?.subnet
    assert.match(subnet ?? '', /^(\d+\.\d+\.\d+)\.0\/24$/)
    const prefix = subnet!.split('.').slice(0, 3).join('.') + '.'
    const named = Object.keys(COMPOSE.volumes ?? {})
    const addrs = new Set<string>()
    for (const name of SERVICES) {
      const s = COMPOSE.services[name]!
      assert.equal(s.build, '.', `${name} is built from ./Dockerfile`)
      assert.ok(s.image !== undefined)
      const addr = s.networks?.[netName]?.ipv4_address
      assert.ok(addr?.startsWith(prefix) === true && !addr.endsWith('.0') && !addr.endsWith('.1') && !addr.endsWith('.255'), `${name}: ${addr} in ${subnet}`)
      addrs.add(addr)
      assert.equal(s.hostname, name)
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!
        assert.ok(named.includes(source), `${name}: volume ${source} is a named volume`)
      }
      assert.ok((s.volumes ?? []).some((v) => v.endsWith(':/data')), `${name} keeps /data on a volume`)
    }
    assert.equal(addrs.size, 3, 'one address each')
    assert.ok(named.includes('node1-data') && named.includes('node2-data') && named.includes('node3-data'))
  })

  it('publishes 8080, 8081, 8082 to each node\'s HTTPS port and 4001-4003 to its libp2p TCP and QUIC port; each node\'s public URL and issuer are that address', () => {
    SERVICES.forEach((name, i) => {
      const s = COMPOSE.services[name]!
      const ports = [...(s.ports ?? [])].sort()
      assert.deepEqual(ports, [`${4001 + i}:4001/tcp`, `${4001 + i}:4001/udp`, `${8080 + i}:8080/tcp`].sort(), name)
      // What clients on the host use is what the node must call itself, or its tokens name another issuer.
      const { config } = loadConfig({ env: settingsOnly({ ...runtimeEnv(), ...s.environment }), flags: flagValues(parseForm(s).serveArgs) })
      assert.equal(config.port, 8080, `${name} listens where its ports point`)
      assert.equal(config.publicUrl, `https://localhost:${8080 + i}`)
      assert.equal(config.oauth2Issuer, config.publicUrl)
      assert.equal(config.nodeName, name)
      assert.equal(config.mcpEnabled, true)
    })
  })

  it('every environment variable is a setting the configuration knows, with a valid value, and no secret is written in it', () => {
    for (const name of SERVICES) {
      const env = COMPOSE.services[name]!.environment ?? {}
      assert.ok(Object.keys(env).length > 0)
      assertKnownVariables(env, `${name} environment`)
      for (const s of SETTINGS.filter((x) => x.secret === true)) assert.ok(!(s.env in env), `${name} does not carry ${s.env}`)
      assert.doesNotThrow(() => loadConfig({ env: settingsOnly({ ...runtimeEnv(), ...env }) }), name)
      assert.ok('LOG_LEVEL' in env)
    }
  })

  it('its healthcheck is the image\'s HEALTHCHECK command; node2 and node3 start once node1 is healthy', () => {
    for (const name of SERVICES) assert.deepEqual(COMPOSE.services[name]!.healthcheck?.test, ['CMD', ...HEALTHCHECK], name)
    for (const name of ['node2', 'node3']) assert.equal(COMPOSE.services[name]!.depends_on?.node1?.condition, 'service_healthy')
  })

  it('node1 founds and invites exactly the other services, each joins as itself through a volume all three share; the serve flags are the image CMD\'s', async () => {
    const cmd = execForm(only(inRuntime('CMD'), 'CMD').args)
    const invitationDirs = new Set<string>()
    for (const name of SERVICES) {
      const s = COMPOSE.services[name]!
      assert.deepEqual(s.entrypoint, ['node', `${APP}/docker/form-hive.mjs`])
      assert.ok(runtimeEnv().PATH!.split(':').includes(posix.dirname(IMAGE_NODE)), '`node` is on the image\'s PATH')
      const o = parseForm(s)
      if (name === 'node1') {
        assert.equal(o.mode, 'found')
        assert.deepEqual([...o.names].sort(), ['node2', 'node3'])
      } else {
        assert.equal(o.mode, 'join')
        assert.deepEqual(o.names, [name])
      }
      assert.ok((s.volumes ?? []).some((v) => v.endsWith(`:${o.dir}`)), `${name} mounts a volume at ${o.dir}`)
      invitationDirs.add((s.volumes ?? []).find((v) => v.endsWith(`:${o.dir}`))!)
      assert.deepEqual(o.serveArgs, cmd, `${name} runs the node as the image's CMD does`)
      await assertAccepted(o.serveArgs, `${name} command`)
    }
    assert.equal(invitationDirs.size, 1, 'one invitations volume, mounted at the same place in all three')
  })
})

describe('docker/form-hive.mjs', () => {
  const { run, dir } = formHarness()

  it('every edge-hive command it runs is accepted by the real CLI', async () => {
    const calls = [CALLS.status(), CALLS.members(), CALLS.init(), CALLS.invite('1h')]
    for (const c of calls) await assertAccepted(c, 'form-hive')
    assert.deepEqual(CALLS.invite('1h'), ['hive', 'invite', '--ttl', '1h', '--uses', '1', '--json'])
  })

  it('refuses a wrong command line with exit 2 before starting anything', async () => {
    for (const args of [[], ['found', '--invitations', '/tmp/x'], ['join', '--invitations', '/tmp/x'], ['join', '--invitations', '/tmp/x', '--as', '../evil'],
      ['found', '--invitations', '/tmp/x', '--invite', 'a', '--', 'status'], ['found', '--invitations', '/tmp/x', '--invite', 'a', '--ttl', 'soon'], ['dance', '--invitations', '/tmp/x']]) {
      const f = run(args)
      const { code } = await f.exited
      assert.equal(code, 2, `${args.join(' ')}: ${f.err}`)
      assert.match(f.err, /usage: form-hive/)
    }
  })

  it('a joiner waiting for its invitation stops at once on SIGTERM (exit 143)', async () => {
    const f = run(['join', '--invitations', dir(), '--as', 'lonely', '--', ...loopbackServe(dir())])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const t0 = Date.now()
    const { code } = await f.stop()
    assert.equal(code, 143)
    assert.ok(Date.now() - t0 < 5000)
    assert.deepEqual(f.nodePids(), [], 'no node was started')
  })

  describe('with two real nodes on loopback', () => {
    let inv = ''
    let a = ''
    let b = ''
    before(() => { inv = join(dir(), 'invitations'); a = dir(); b = dir() })
    let founder: FormHive
    let joiner: FormHive
    let founderPeer = ''
    let token = ''
    // The founder finds its data dir in EDGE_HIVE_DATA_DIR, as in the image; the joiner in --data-dir.
    const startFounder = (): FormHive => run(['found', '--invitations', inv, '--invite', 'b', '--check-every', '500ms', '--', ...loopbackServe(a)], { EDGE_HIVE_DATA_DIR: a })
    const startJoiner = (): FormHive => run(['join', '--invitations', inv, '--as', 'b', '--', ...loopbackServe(b), '--data-dir', b])

    it('the joiner waits; the founder founds the hive and writes the invitation 0600 in a 0700 dir; the joiner joins with it, marks itself joined and deletes it', async () => {
      joiner = startJoiner()
      await new Promise((resolve) => setTimeout(resolve, 1500))
      assert.deepEqual(joiner.nodePids(), [], 'no node before there is an invitation')
      founder = startFounder()
      const invFile = join(inv, 'b.invitation.json')
      const seen = await until(60_000, () => existsSync(invFile) ? readFileSync(invFile, 'utf8') : '', (t) => t !== '')
      assert.notEqual(seen, '', `an invitation appeared; founder said: ${founder.err}`)
      assert.equal(modeOf(invFile), 0o600)
      assert.equal(modeOf(inv), 0o700)
      const doc = JSON.parse(seen) as { token: string, expires_at: string, uses: number, hive_id: string, for: string }
      token = doc.token
      assert.match(token, /^ehi_/)
      assert.equal(doc.uses, 1)
      assert.equal(doc.for, 'b')
      assert.ok(Date.parse(doc.expires_at) > Date.now() + 50 * 60_000, 'valid for the default hour')

      const marker = join(inv, 'b.joined.json')
      await until(90_000, () => existsSync(marker), Boolean)
      assert.ok(existsSync(marker), `b marked itself joined; joiner said: ${joiner.err}`)
      assert.equal(existsSync(invFile), false, 'the used invitation is gone')
      assert.equal(modeOf(marker), 0o600)
      const mark = JSON.parse(readFileSync(marker, 'utf8')) as { hive_id: string, peer_id: string }
      assert.ok(!JSON.stringify(mark).includes('ehi_'), 'the marker holds no token')
      founderPeer = mark.hive_id.replace(/^hive-/, '')
      assert.equal(mark.hive_id, doc.hive_id)

      const onB = await membersOf(b)
      assert.equal(onB?.hive_id, doc.hive_id)
      assert.equal(onB?.members.find((m) => m.self)?.peer_id, mark.peer_id)
      const onA = await until(60_000, async () => await membersOf(a), (m) => m?.members.some((x) => x.peer_id === mark.peer_id) === true)
      assert.equal(onA?.hive_id, doc.hive_id)
      assert.equal(onA?.members.find((x) => x.self)?.peer_id, founderPeer, 'node a founded the hive')
      assert.ok(onA?.members.some((x) => x.peer_id === mark.peer_id), 'the founder knows b as a member')
    })

    it('never prints a token: not the script, not the nodes', () => {
      assert.ok(token !== '')
      for (const f of [founder, joiner]) {
        assert.ok(!f.out.includes(token) && !f.err.includes(token), 'the token is not in the output')
        assert.ok(!/ehi_[A-Za-z0-9_-]{8,}/.test(f.out + f.err), 'no token at all')
      }
    })

    it('SIGTERM stops the node through the script (exit 0, data dir released); restarted, they neither invite nor join again', async () => {
      for (const [f, d] of [[joiner, b], [founder, a]] as const) {
        const { code } = await f.stop()
        assert.equal(code, 0, f.err)
        const s = await runCli(['status', '--json', '--data-dir', d])
        assert.equal((JSON.parse(s.stdout) as { status: string }).status, 'not_running')
      }
      const before = readdirSync(inv).sort()
      founder = startFounder()
      joiner = startJoiner()
      await until(90_000, () => /b is a member of hive-/.test(joiner.err) && /: b joined/.test(founder.err), Boolean)
      assert.match(joiner.err, /b is a member of hive-/)
      assert.match(founder.err, new RegExp(`hive hive-${founderPeer}: b joined`), 'the founder found the same hive and b marked joined')
      const onB = await membersOf(b)
      assert.equal(onB?.hive_id, `hive-${founderPeer}`, 'the same hive, from b\'s own data dir')
      // More of the founder's rounds (every 500ms) later: still no new invitation.
      await new Promise((resolve) => setTimeout(resolve, 3000))
      assert.deepEqual(readdirSync(inv).sort(), before, 'no invitation written again')
      assert.doesNotMatch(founder.err, /founded|wrote an invitation/, 'neither founded nor invited again')
    })

    it('the founder\'s own audit log: one hive founded, one invitation made, one member joined, over both runs', async () => {
      for (const f of [joiner, founder]) assert.equal((await f.stop()).code, 0)
      const entries = await new Promise<Array<{ action: string }>>((resolve, reject) => {
        const c = spawn(process.execPath, [READ_AUDIT, `surrealkv://${join(a, 'db')}`], { stdio: ['ignore', 'pipe', 'pipe'] })
        let o = ''
        let e = ''
        c.stdout.on('data', (d: Buffer) => { o += d.toString() })
        c.stderr.on('data', (d: Buffer) => { e += d.toString() })
        c.on('close', (code) => { if (code === 0) resolve(JSON.parse(o) as Array<{ action: string }>); else reject(new Error(e)) })
      })
      const count = (action: string): number => entries.filter((x) => x.action === action).length
      assert.equal(count('hive.created'), 1)
      assert.equal(count('hive.invitation_created'), 1, 'no invitation made for a node that joined already')
      assert.equal(count('hive.member_joined'), 1)
    })
  })
})

// Slow ones (they wait for tokens to run out), each in a block of its own.
describe('docker/form-hive.mjs when an invitation expires unused', () => {
  const { run, dir } = formHarness()

  it('an invitation that expired unused is replaced by a fresh one, not earlier', async () => {
    const inv = dir()
    const f = run(['found', '--invitations', inv, '--invite', 'late', '--ttl', '20s', '--check-every', '500ms', '--', ...loopbackServe(dir(), 'mem://')])
    const file = join(inv, 'late.invitation.json')
    const readDoc = (): { token: string, expires_at: string } | undefined => {
      try { return JSON.parse(readFileSync(file, 'utf8')) as { token: string, expires_at: string } } catch { return undefined }
    }
    const first = await until(90_000, readDoc, (d) => d !== undefined)
    assert.ok(first !== undefined, f.err)
    const firstExpiry = Date.parse(first.expires_at)
    const second = await until(firstExpiry - Date.now() + 60_000, readDoc, (d) => d !== undefined && d.token !== first.token)
    const replacedAt = Date.now()
    assert.ok(second !== undefined && second.token !== first.token, `replaced; founder said: ${f.err}`)
    assert.ok(replacedAt >= firstExpiry - 5000 - 1000, `not replaced while still usable (${firstExpiry - replacedAt} ms left)`)
    assert.ok(Date.parse(second.expires_at) > firstExpiry)
    assert.equal(modeOf(file), 0o600)
  })
})

describe('docker/form-hive.mjs when an invitation runs out', () => {
  const { run, dir } = formHarness()

  it('a joiner whose token expires while the founder is away stops its node and joins with the fresh invitation the founder writes on its return', async () => {
    const inv = dir()
    const a = dir()
    const c = dir()
    const founderArgs = ['found', '--invitations', inv, '--invite', 'c', '--ttl', '20s', '--check-every', '500ms', '--', ...loopbackServe(a)]
    let founder = run(founderArgs, { EDGE_HIVE_DATA_DIR: a })
    const file = join(inv, 'c.invitation.json')
    const first = await until(60_000, () => existsSync(file) ? readFileSync(file, 'utf8') : '', (t) => t !== '')
    assert.notEqual(first, '', founder.err)
    assert.equal((await founder.stop()).code, 0)
    // The founder is gone: the joiner's node cannot reach it before the token runs out.
    const joiner = run(['join', '--invitations', inv, '--as', 'c', '--', ...loopbackServe(c, 'mem://'), '--data-dir', c])
    const expiry = Date.parse((JSON.parse(first) as { expires_at: string }).expires_at)
    await until(expiry - Date.now() + 30_000, () => /expired before the node could join/.test(joiner.err), Boolean)
    assert.match(joiner.err, /expired before the node could join; starting again/)
    assert.ok(joiner.nodePids().length >= 1, 'its node had started with the first token')
    founder = run(founderArgs, { EDGE_HIVE_DATA_DIR: a })
    const marker = join(inv, 'c.joined.json')
    await until(90_000, () => existsSync(marker), Boolean)
    assert.ok(existsSync(marker), `c joined in the end; joiner said: ${joiner.err}; founder said: ${founder.err}`)
    assert.equal(joiner.nodePids().length, 2, 'a second node process, started with the fresh token')
    const onC = await membersOf(c)
    assert.ok(onC?.hive_id?.startsWith('hive-') === true)
    const onA = await membersOf(a)
    assert.equal(onC?.hive_id, onA?.hive_id)
    assert.equal(existsSync(file), false)
  })
})

// The image is Linux with glibc; its native modules can be rehearsed only on such a machine.
const glibc = process.platform === 'linux' && (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined
const notLikeTheImage = glibc ? false : `the image is Linux with glibc and this machine is ${process.platform} without it: its native modules cannot be loaded here`

describe('the runtime stage rehearsed here: /app with production dependencies only', { skip: notLikeTheImage }, () => {
  let root = ''
  let app = ''
  let data = ''
  let node: ChildProcess | undefined
  before(() => { root = tempDir('edge-hive-image-'); app = join(root, 'app'); data = join(root, 'data') })
  after(() => {
    if (node !== undefined && node.exitCode === null) node.kill('SIGKILL')
    if (root !== '') rmSync(root, { recursive: true, force: true })
  })

  it('assembles /app as the runtime stage\'s COPY instructions do, node_modules holding the production packages of package-lock.json', () => {
    mkdirSync(app, { recursive: true })
    for (const { sources, dest } of copies(RUNTIME)) {
      assert.equal(sources.length, 1)
      const rel = sources[0]!.slice(APP.length + 1)
      const target = join(app, posix.relative(APP, posix.resolve(APP, dest)))
      if (rel !== 'node_modules') { cpSync(at(rel), target, { recursive: true }); continue }
      // What `npm ci` then `npm prune --omit=dev` leaves: top-level entries not marked dev (nested ones come with their parent).
      const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean, devOptional?: boolean }> }
      let count = 0
      for (const [path, meta] of Object.entries(lock.packages)) {
        if (!path.startsWith('node_modules/') || path.slice('node_modules/'.length).includes('node_modules/')) continue
        if (meta.dev === true || meta.devOptional === true || !existsSync(at(path))) continue
        cpSync(at(path), join(target, path.slice('node_modules/'.length)), { recursive: true, verbatimSymlinks: true })
        count++
      }
      assert.ok(count > 50, `${count} production packages`)
    }
    for (const p of ['package.json', 'dist/cli/main.js', 'docker/bin/edge-hive', 'docker/prune-node-modules.mjs', 'node_modules/@surrealdb/node']) assert.ok(existsSync(join(app, p)), `/app/${p}`)
    assert.equal(existsSync(join(app, 'node_modules', 'node')), false, 'the dev-only Node.js package is not there')
  })

  it('docker/prune-node-modules.mjs keeps this platform\'s native modules only, drops typescript and @types, and they load', async () => {
    const r = await new Promise<{ code: number | null, out: string }>((resolve) => {
      const c = spawn(process.execPath, [join(app, 'docker', 'prune-node-modules.mjs'), app], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      c.stdout.on('data', (d: Buffer) => { out += d.toString() })
      c.stderr.on('data', (d: Buffer) => { out += d.toString() })
      c.on('close', (code) => resolve({ code, out }))
    })
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, /load on linux-/)
    const platform = `linux-${process.arch}-gnu`
    const engines = readdirSync(join(app, 'node_modules', '@surrealdb', 'node', 'dist')).filter((n) => n.endsWith('.node'))
    assert.deepEqual(engines, [`surrealdb-node.${platform}.node`])
    const quic = readdirSync(join(app, 'node_modules', '@chainsafe')).filter((n) => n.startsWith('libp2p-quic-'))
    assert.deepEqual(quic, [`libp2p-quic-${platform}`])
    assert.equal(existsSync(join(app, 'node_modules', 'typescript')), false)
    assert.equal(existsSync(join(app, 'node_modules', '@types')), false)
  })

  it('the launcher starts a node from it with the image\'s environment, the embedded store on disk and QUIC; the HEALTHCHECK passes', async () => {
    const env = cleanEnv({ ...runtimeEnv(), PATH: process.env.PATH ?? '', HOME: data, EDGE_HIVE_DATA_DIR: join(data, '.edge-hive'), EDGE_HIVE_HOST: '127.0.0.1' })
    // The image's CMD without --discovery (no multicast here) and with free loopback ports.
    const args = ['serve', '--port', '0', '--metrics-port', '0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--p2p-listen', '/ip4/127.0.0.1/udp/0/quic-v1']
    const argv = diesWithParent([process.execPath, join(app, 'docker', 'bin', 'edge-hive'), ...args])
    const child = spawn(argv.cmd, argv.args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    node = child
    let out = ''
    let err = ''
    child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not ready: ${err}`)), 60_000)
      const onLine = lines((line) => {
        const r = readyLineOf(line)
        if (r !== undefined) { clearTimeout(t); resolve(r) }
      })
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        onLine(d)
      })
      child.on('close', (code) => { clearTimeout(t); reject(new Error(`exited ${code}: ${err}`)) })
    })
    assert.ok(ready.p2p_addrs.some((x) => x.includes('/quic-v1')), `QUIC loaded from the pruned tree: ${ready.p2p_addrs.join(' ')}`)
    assert.ok(ready.p2p_addrs.some((x) => x.includes('/tcp/')))
    assert.ok(existsSync(join(data, '.edge-hive', 'db')), 'the embedded SurrealDB engine keeps the store under the data dir')
    assert.doesNotMatch(out, /QUIC is not available/)
    const health = await new Promise<{ code: number | null, out: string }>((resolve) => {
      const c = spawn(process.execPath, [join(app, HEALTHCHECK[1]!.slice(APP.length + 1)), ...HEALTHCHECK.slice(2)], { env, stdio: ['ignore', 'pipe', 'inherit'] })
      let o = ''
      c.stdout.on('data', (d: Buffer) => { o += d.toString() })
      c.on('close', (code) => resolve({ code, out: o }))
    })
    assert.equal(health.code, 0, health.out)
    child.kill('SIGTERM')
    const code = await new Promise((resolve) => child.exitCode !== null ? resolve(child.exitCode) : child.on('close', resolve))
    assert.equal(code, 0)
  })
})

// The CLI a test starts is the built one; make sure it is there (npm test builds first).
assert.ok(existsSync(CLI), 'dist/cli/main.js: run `npm run build` first')
