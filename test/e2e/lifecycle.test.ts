import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect as h2connect } from 'node:http2'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Fleet, runCli, cleanEnv, diesWithParent, freePort, HAS_PARENT_DEATH_SIGNAL } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'

const exec = promisify(execFile)
const READ_AUDIT = fileURLToPath(new URL('../fixtures/read-audit.ts', import.meta.url))
const NODE_THEN_WAIT = fileURLToPath(new URL('../fixtures/node-then-wait.ts', import.meta.url))

/** Whether a process is gone: no such pid, or a zombie waiting for its new parent to reap it. */
function gone (pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z')
  } catch {
    return true
  }
}

async function readAudit (storeUrl: string): Promise<Array<{ action: string, actor: string }>> {
  const { stdout } = await exec(process.execPath, [READ_AUDIT, storeUrl])
  return JSON.parse(stdout) as Array<{ action: string, actor: string }>
}

describe('node lifecycle', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('keeps its identity and certificate across a restart (separate processes)', async () => {
    const dir = fleet.tempDir()
    const store = ['--store', `surrealkv://${join(dir, 'db')}`]
    const first = await fleet.start({ dataDir: dir, args: store })
    assert.equal((await first.stop()).code, 0)
    const second = await fleet.start({ dataDir: dir, args: store })
    assert.equal(second.ready.node_id, first.ready.node_id)
    assert.equal(second.ready.peer_id, first.ready.peer_id)
    assert.equal(second.ready.tls_fingerprint, first.ready.tls_fingerprint)
    // And the certificate on the wire is the one kept on disk.
    const { stdout } = await exec('openssl', ['x509', '-in', join(dir, 'tls', 'cert.pem'), '-noout', '-fingerprint', '-sha256'])
    assert.equal(stdout.trim().split('=')[1], second.ready.tls_fingerprint)
    assert.equal((await second.stop()).code, 0)
  })

  it('refuses a second node on the same data dir, naming the holder', async () => {
    const first = await fleet.start({})
    const second = await runCli(['serve', '--data-dir', first.dataDir, '--port', '0', '--store', 'mem://'])
    assert.equal(second.code, 1)
    assert.match(second.stderr, new RegExp(`in use by another node \\(pid ${first.child.pid}\\)`))
    assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace')
    // The first node is unharmed.
    assert.equal((await request1(`${first.url}/readyz`)).status, 200)
  })

  const withSetpriv = { skip: HAS_PARENT_DEATH_SIGNAL ? false : 'needs the kernel\'s parent-death signal: Linux with util-linux\'s /usr/bin/setpriv' }
  it('a node a test started is killed with the test\'s process, even when its clean-up never runs', withSetpriv, async () => {
    // The runner ends a file over its time limit with SIGTERM, which runs no `after` hook; SIGKILL
    // here, the case where the process can do nothing at all. The stand-in test process itself
    // dies with this one, should this file be the one the runner ends.
    const argv = diesWithParent([process.execPath, NODE_THEN_WAIT])
    const testFile = spawn(argv.cmd, argv.args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let nodePid: number | undefined
    let dataDir: string | undefined
    try {
      let out = ''
      let err = ''
      testFile.stderr.on('data', (d: Buffer) => { err += d.toString() })
      nodePid = await new Promise<number>((resolve, reject) => {
        testFile.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /"node_pid":(\d+),"data_dir":("[^"]+")/.exec(out)
          if (m !== null) { dataDir = JSON.parse(m[2]!) as string; resolve(Number(m[1])) }
        })
        testFile.on('close', (code) => { reject(new Error(`the test process exited (${code}) before its node was ready: ${err.slice(-2000)}`)) })
        setTimeout(() => { reject(new Error(`the test process's node was not ready in 60 s: ${err.slice(-2000)}`)) }, 60_000).unref()
      })
      assert.equal(gone(nodePid), false, 'the node runs')
      testFile.kill('SIGKILL')
      // The kernel signals the node as the test process exits; how soon it is reaped depends on the machine.
      const deadline = Date.now() + 30_000
      while (!gone(nodePid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(gone(nodePid), true, `the node (pid ${nodePid}) outlived the test process that started it`)
    } finally {
      testFile.kill('SIGKILL')
      if (nodePid !== undefined && !gone(nodePid)) process.kill(nodePid, 'SIGKILL')
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it('takes over a lock left by a process that is gone', async () => {
    const dir = fleet.tempDir()
    const dead = spawn(process.execPath, ['-e', '0'])
    await new Promise((resolve) => dead.on('close', resolve))
    writeFileSync(join(dir, 'node.lock'), JSON.stringify({ pid: dead.pid, startedAt: new Date().toISOString() }), { mode: 0o600 })
    const node = await fleet.start({ dataDir: dir })
    assert.equal(JSON.parse(readFileSync(join(dir, 'node.lock'), 'utf8')).pid, node.child.pid)
  })

  it('status --json says healthy while up and exits 1 with the reason after stop', async () => {
    const node = await fleet.start({})
    const up = await runCli(['status', '--json', '--data-dir', node.dataDir])
    assert.equal(up.code, 0, up.stderr)
    const report = JSON.parse(up.stdout)
    assert.equal(report.healthy, true)
    assert.equal(report.status, 'ready')
    assert.equal(report.node.node_id, node.ready.node_id)
    const human = await runCli(['status', '--data-dir', node.dataDir])
    assert.match(human.stdout, new RegExp(`^ready: .*${node.ready.node_id}`))

    assert.equal((await node.stop()).code, 0)
    const down = await runCli(['status', '--json', '--data-dir', node.dataDir])
    assert.equal(down.code, 1)
    const after = JSON.parse(down.stdout)
    assert.equal(after.healthy, false)
    assert.equal(after.status, 'not_running')
    assert.match(after.reason, /no running node/)
  })

  it('status refuses a server whose certificate is not the one in the data dir', async () => {
    const node = await fleet.start({})
    const lock = JSON.parse(readFileSync(join(node.dataDir, 'node.lock'), 'utf8'))
    // Another fingerprint for sure: a real one starts with 00 one time in 256.
    const other = lock.fingerprint.replace(/^../, lock.fingerprint.startsWith('00') ? 'FF' : '00')
    writeFileSync(join(node.dataDir, 'node.lock'), JSON.stringify({ ...lock, fingerprint: other }))
    const res = await runCli(['status', '--json', '--data-dir', node.dataDir])
    assert.equal(res.code, 1)
    const report = JSON.parse(res.stdout)
    assert.equal(report.status, 'unreachable')
    assert.match(report.reason, /presents certificate/)
  })

  it('on SIGTERM finishes, records the stop, releases the lock and exits 0, even with an HTTP/2 session open', async () => {
    const dir = fleet.tempDir()
    const storeUrl = `surrealkv://${join(dir, 'db')}`
    // A long bound: if open sessions were not drained, the stop would wait it out and the test time out.
    const node = await fleet.start({ dataDir: dir, args: ['--store', storeUrl, '--shutdown-timeout', '10m'] })
    const session = h2connect(node.url, { rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ':path': '/healthz' })
      req.on('response', () => undefined).on('end', resolve).on('error', reject).resume()
    })
    const goaway = new Promise<void>((resolve) => session.on('goaway', () => resolve()))
    const exit = await node.stop()
    await goaway
    session.destroy()
    assert.equal(exit.code, 0)
    assert.equal(existsSync(join(dir, 'node.lock')), false, 'lock released')
    const audit = await readAudit(storeUrl)
    const actions = audit.map((e) => e.action)
    assert.deepEqual(actions.slice(0, 2), ['node.stopped', 'node.started'], 'newest first, nothing lost')
  })

  it('exits 0 on SIGINT as well', async () => {
    const node = await fleet.start({})
    node.child.kill('SIGINT')
    assert.equal((await node.exited).code, 0)
  })

  it('answers every request already in flight when SIGTERM arrives', async () => {
    const node = await fleet.start({ args: ['--shutdown-timeout', '10m'] })
    const session = h2connect(node.url, { rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject))
    // 20 requests on one connection; the signal goes when the first answer arrives, so the
    // server is in the middle of them.
    let signalled = false
    const outcomes = Array.from({ length: 20 }, async () => await new Promise<string>((resolve) => {
      const req = session.request({ ':path': '/mcp/node/info' })
      let status = ''
      req.on('response', (h) => {
        status = String(h[':status'])
        if (!signalled) { signalled = true; node.child.kill('SIGTERM') }
      })
      req.on('end', () => resolve(status))
      req.on('error', (err: Error) => resolve(err.message))
      req.resume()
    }))
    const results = await Promise.all(outcomes)
    session.destroy()
    // Each is answered in full or, if the server had not started it, refused with
    // REFUSED_STREAM (safe to retry, RFC 9113 §8.7): never cut halfway.
    for (const r of results) assert.ok(r === '200' || /REFUSED_STREAM/.test(r), `unexpected outcome ${r}`)
    assert.ok(results.includes('200'))
    assert.equal((await node.exited).code, 0)
  })
})

describe('CLI basics', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('prints its version and help for every command', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    const v = await runCli(['--version'])
    assert.equal(v.code, 0)
    assert.equal(v.stdout.trim(), pkg.version)
    for (const args of [['--help'], ['serve', '--help'], ['status', '--help']]) {
      const h = await runCli(args)
      assert.equal(h.code, 0, `${args.join(' ')} exits 0`)
      assert.match(h.stdout, /Usage: edge-hive/)
    }
  })

  it('serve --help shows each default, and says what each --no- flag turns off (issue 16)', async () => {
    // One block per option (commander wraps long descriptions onto indented lines).
    const blocks = (await runCli(['serve', '--help'])).stdout.split(/\n(?= {2}-)/).map((b) => b.replace(/\s+/g, ' ').trim())
    const help = (flag: string): string => blocks.find((b) => b.startsWith(`${flag} `)) ?? assert.fail(`no ${flag} in serve --help`)
    for (const [flag, shown] of [
      ['--port <number>', '8080'], ['--data-dir <dir>', '~/.edge-hive'], ['--p2p-listen <multiaddr>', '/ip4/0.0.0.0/tcp/4001'], ['--metrics-port <number>', '9464']
    ] as const) {
      assert.ok(help(flag).includes(`(default: ${shown}`), `${flag} shows its default ${shown}: ${help(flag)}`)
    }
    for (const flag of ['--no-p2p', '--no-mcp', '--no-metrics', '--no-p2p-relay']) assert.match(help(flag), new RegExp(`^${flag} Do not `), `${flag} says what it turns off`)
  })

  it('refuses an unknown flag with exit 2', async () => {
    const r = await runCli(['serve', '--no-such-flag'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown option '--no-such-flag'/)
  })

  it('answers an id that starts with a dash (one approval in 64) with the line that takes it, the id after --', async () => {
    const typo = join(fleet.tempDir(), 'typo')
    // -V is the program's --version, -h help; -- starts a long option.
    for (const start of ['-U', '-V', '-h', '--']) {
      const id = `${start}teqOqJUxb_MUsC0kSMzaSV7BaezEvA--6ETILulCy`
      const r = await runCli(['grants', 'revoke', id, '--data-dir', typo])
      assert.equal(r.code, 2, `${id}: ${r.stdout}${r.stderr}`)
      assert.match(r.stderr, new RegExp(`unknown option '${id}'`))
      const line = /put it after --:\n {2}edge-hive (.+)\n/.exec(r.stderr)?.[1]
      assert.equal(line, `grants revoke --data-dir ${typo} -- ${id}`, r.stderr)
      const taken = await runCli(line.split(' '))
      assert.match(taken.stderr, /holds no node/, 'the id was taken as the argument; what stops it now is the missing node')
      assert.doesNotMatch(taken.stderr, /unknown option/)
    }
    const mistyped = await runCli(['serve', '--no-such-flag'])
    assert.doesNotMatch(mistyped.stderr, /put it after --/, 'a mistyped long option is not taken for an id')
  })

  it('answers `start` and `run` with the command that runs a node, named as the person runs it (issue 16)', async () => {
    const r = await runCli(['start'])
    assert.equal(r.code, 2)
    assert.equal(r.stderr, 'edge-hive: there is no `start` command; a node runs with `edge-hive serve` (`edge-hive --help` lists the commands)\n')
    const npx = await runCli(['run', '--port', '1'], { env: cleanEnv({ npm_command: 'exec' }) })
    assert.equal(npx.code, 2)
    assert.match(npx.stderr, /a node runs with `npx edge-hive serve`/, 'from a checkout, through npm: npx edge-hive')
  })

  it('refuses a data dir that holds no node in every command but serve, and creates nothing there (issue 16)', async () => {
    const typo = join(fleet.tempDir(), 'typo')
    for (const args of [['clients', 'list'], ['clients', 'add', '--name', 'x', '--scopes', 'mcp:read'], ['peers', 'list'], ['hive', 'members'], ['operator', 'set-password']]) {
      const r = await runCli([...args, '--data-dir', typo])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, new RegExp(`^edge-hive: ${typo.replace(/\//g, '\\/')} holds no node .*edge-hive serve --data-dir`), args.join(' '))
      assert.equal(existsSync(typo), false, `${args.join(' ')} created nothing`)
    }
    const status = await runCli(['status', '--data-dir', typo])
    assert.equal(status.code, 1)
    assert.match(status.stdout, /holds no node/)
  })

  it('says what a peer id looks like when given something else, before anything is asked of a node (issue 16)', async () => {
    for (const args of [['peers', 'connect', 'nobody'], ['hive', 'remove', 'nobody']]) {
      const r = await runCli([...args, '--data-dir', fleet.tempDir()])
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stderr, 'edge-hive: nobody is not a peer id (one looks like 12D3KooW followed by about 44 letters and digits; `hive members` and `peers list` show them)\n')
    }
  })

  it('says a node in the lock file that does not answer is unreachable, not an unexpected error (issue 16)', async () => {
    const node = await fleet.start({ args: ['--store', 'mem://'] })
    await node.stop()
    // As a hung or half-stopped node leaves it: a live process in the lock, nothing listening.
    const lock = join(node.dataDir, 'node.lock')
    writeFileSync(lock, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), localUrl: `https://127.0.0.1:${await freePort()}`, fingerprint: 'AA:BB', issuer: 'https://127.0.0.1:1', resource: 'https://127.0.0.1:1/mcp' }))
    try {
      for (const args of [['peers', 'list'], ['hive', 'members']]) {
        const r = await runCli([...args, '--data-dir', node.dataDir])
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /^edge-hive: the node at https:\/\/127\.0\.0\.1:\d+ does not answer \(.*\); `edge-hive status` says how it is\n$/)
      }
    } finally {
      rmSync(lock, { force: true })
    }
  })

  it('runs from the package bin through npx, as the README says', async () => {
    const { stdout } = await exec('npx', ['--no-install', 'edge-hive', '--version'], { env: cleanEnv(), cwd: fileURLToPath(new URL('../..', import.meta.url)) })
    assert.match(stdout.trim(), /^\d+\.\d+\.\d+$/)
  })
})
