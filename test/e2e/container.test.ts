import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { loadConfig } from '../../src/config/index.ts'
import { Fleet, cleanEnv, diesWithParent, tempDir, removeDir, type ReadyLine } from '../helpers/cli.ts'
import { lines, readyLineOf } from '../../scripts/lib/node-process.ts'
import {
  APP, DF, HEALTHCHECK, IMAGE_NODE, RUNTIME, STAGES, assertAccepted, assertKnownVariables, at, copies, execForm, flagValues, inRuntime, only, read, runtimeEnv, settingsOnly
} from './container-lib.ts'

// The container files checked without a container engine: what can be checked here is checked
// against the real thing (the CLI's own --help, the configuration schema, real nodes on loopback,
// a copy of the runtime stage's /app with production dependencies only). No --discovery: these
// tests send no multicast.

const LAUNCHER = at('docker', 'bin', 'edge-hive')

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

  it('every file the command line of `npm run build` (which `npm ci` runs) names is copied into the build stage before `npm ci`, and passes .dockerignore', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    assert.match(scripts.prepare ?? '', /\bnpm run build\b/)
    // The build's own files: each word of its command line that names a file of the repository.
    const files = scripts.build!.split(/\s+/).filter((w) => /\.[a-z]+$/.test(w) && existsSync(at(w)))
    assert.ok(files.includes('tsconfig.build.json') && files.some((f) => f.startsWith('scripts/')), `the build's files: ${files.join(' ')}`)
    const npmCi = DF.findIndex((i) => i.stage === 0 && i.cmd === 'RUN' && /\bnpm ci\b/.test(i.args))
    assert.ok(npmCi >= 0, 'the build stage runs npm ci')
    const copied = copies(0, npmCi).flatMap((c) => c.sources)
    for (const f of files) {
      assert.ok(copied.some((c) => c === f || (c.endsWith('/') && f.startsWith(c))), `${f} is copied before npm ci (copied: ${copied.join(' ')})`)
      assert.ok(!ignored(DOCKERIGNORE, f), `${f} is in the build context`)
    }
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
