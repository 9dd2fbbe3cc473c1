import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { SETTINGS, loadConfig } from '../../src/config/index.ts'
import { cleanEnv, diesWithParent, runCli, tempDir, removeDir } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import {
  APP, HEALTHCHECK, IMAGE_NODE, assertAccepted, assertKnownVariables, at, execForm, flagValues, inRuntime, only, read, runtimeEnv, settingsOnly
} from './container-lib.ts'

// The container files checked without a container engine: what can be checked here is checked
// against the real thing (the CLI's own --help, the configuration schema, real nodes on loopback,
// a copy of the runtime stage's /app with production dependencies only). No --discovery: these
// tests send no multicast.

const FORM_HIVE = at('docker', 'form-hive.mjs')
const READ_AUDIT = at('test', 'fixtures', 'read-audit.ts')

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
