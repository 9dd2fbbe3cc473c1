import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanEnv, removeDir, tempDir, type RunResult } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { decodePayload } from '../helpers/tokens.ts'
import { TestNetwork, netnsUnavailable } from './netns.ts'

// `npm run hive -- up|down` (scripts/local-hive.ts), run here with a state dir and ports of the
// test's own (LOCAL_HIVE_DIR, LOCAL_HIVE_BASE_PORT) so that it never meets a developer's hive.

const SCRIPT = fileURLToPath(new URL('../../scripts/local-hive.ts', import.meta.url))

/**
 * Runs the local-hive script. `asUser` runs it as that user inside a user namespace (util-linux's
 * unshare): it sees itself as that user, while its access to files stays the caller's, so it can
 * read the checkout wherever it sits (also under root's 0700 home).
 */
function hive (args: string[], env: Record<string, string>, options: { timeoutMs?: number, asUser?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, SCRIPT, ...args]
    const [cmd, ...rest] = options.asUser === undefined ? argv : ['unshare', `--map-user=${options.asUser}`, `--map-group=${options.asUser}`, '--', ...argv]
    const child = spawn(cmd!, rest, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`local-hive ${args.join(' ')} did not finish; stderr: ${stderr}`)) }, options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

async function portFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

/** A base port whose next `count` ports are free on 127.0.0.1 now. */
async function freeBase (count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000)
    const ports = Array.from({ length: count }, (_, i) => base + i + 1)
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base
  }
}

async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', () => resolve(true))
  })
}

function running (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch { return false }
}

const namespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean)

interface Printed { index: number, mcpUrl: string, nodeId: string, peerId: string, caFile: string, token: string }
interface State { namespaces: string[], nodes: Array<{ index: number, ns: string, port: number, pids: { node?: number, inner?: number, outer?: number } }> }

function printedNodes (stdout: string): Printed[] {
  return [...stdout.matchAll(/^node (\d+) \(.*\)\n {2}MCP URL {2}(\S+)\n {2}node id {2}(\S+)\n {2}peer id {2}(\S+)\n {2}CA cert {2}(\S+)\n {2}token {4}(\S+)$/gm)]
    .map((m) => ({ index: Number(m[1]), mcpUrl: m[2]!, nodeId: m[3]!, peerId: m[4]!, caFile: m[5]!, token: m[6]! }))
}

describe('npm run hive: arguments and refusals', () => {
  const parent = tempDir('edge-hive-local-hive-args-')
  const env = { LOCAL_HIVE_DIR: join(parent, 'hive'), LOCAL_HIVE_BASE_PORT: '20000' }
  after(() => { removeDir(parent) })

  for (const n of ['0', '100', 'three']) {
    it(`up --nodes ${n} is a usage error (exit 2) that says what is allowed, and makes nothing`, async () => {
      const r = await hive(['up', '--nodes', n], env)
      assert.equal(r.code, 2)
      assert.match(r.stderr, /--nodes must be a whole number from 1 to 10/)
      assert.match(r.stderr, /usage: npm run hive -- up \[--nodes N\]/)
      assert.equal(existsSync(env.LOCAL_HIVE_DIR), false)
    })
  }

  it('an unknown command is a usage error (exit 2)', async () => {
    const r = await hive(['sideways'], env)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown command "sideways"/)
  })

  it('down when nothing is up says so and exits 0', async () => {
    const r = await hive(['down'], env)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /no local hive is up/)
  })

  it('up by a user other than root is refused with a clear message (exit 1)', async () => {
    // As root, run it as nobody (65534); as anyone else, run it as is.
    const r = await hive(['up'], env, process.getuid?.() === 0 ? { asUser: 65534 } : {})
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /up needs root/)
    assert.equal(existsSync(env.LOCAL_HIVE_DIR), false)
  })
})

const unavailable = netnsUnavailable()

describe('npm run hive -- up --nodes 3, then down', { skip: unavailable ?? false }, () => {
  const parent = tempDir('edge-hive-local-hive-test-')
  const stateDir = join(parent, 'hive')
  let env: Record<string, string>
  let base: number
  let upResult: RunResult
  let printed: Printed[]
  let state: State

  before(async () => {
    base = await freeBase(3)
    env = { LOCAL_HIVE_DIR: stateDir, LOCAL_HIVE_BASE_PORT: String(base) }
    upResult = await hive(['up', '--nodes', '3'], env, { timeoutMs: 180_000 })
    printed = printedNodes(upResult.stdout)
    if (existsSync(join(stateDir, 'state.json'))) state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as State
  }, { timeout: 200_000 })

  after(async () => {
    // Whatever happened above: no hive, namespace or process of this test is left behind.
    if (existsSync(stateDir)) await hive(['down'], env, { timeoutMs: 60_000 }).catch(() => undefined)
    const left = new Set(namespaces())
    for (const ns of state?.namespaces ?? []) if (left.has(ns)) execFileSync('ip', ['netns', 'del', ns])
    for (const n of state?.nodes ?? []) for (const pid of Object.values(n.pids)) if (pid !== undefined && running(pid)) process.kill(pid, 'SIGKILL')
    removeDir(parent)
  }, { timeout: 90_000 })

  it('up forms the hive and prints, for each node, its MCP URL, node id, peer id and an operator token', () => {
    assert.equal(upResult.code, 0, `up failed: ${upResult.stderr}`)
    assert.match(upResult.stdout, /local hive up: 3 node\(s\) in hive-12D3KooW\S+, every node sees every other online/)
    assert.deepEqual(printed.map((p) => p.index), [1, 2, 3])
    for (const p of printed) {
      assert.equal(p.mcpUrl, `https://127.0.0.1:${base + p.index}/mcp`)
      assert.match(p.nodeId, /^[a-z]+-[a-z]+-[0-9a-f]{6}$/)
      assert.match(p.peerId, /^12D3KooW/)
      const claims = decodePayload(p.token)
      assert.equal(claims.aud, p.mcpUrl, 'the token is for the URL the operator uses from this namespace')
      assert.equal(claims.iss, `https://127.0.0.1:${base + p.index}`)
      const tokenFile = join(stateDir, `node-${p.index}`, 'token')
      assert.equal(readFileSync(tokenFile, 'utf8').trim(), p.token)
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600)
    }
    assert.equal(new Set(printed.map((p) => p.peerId)).size, 3)
    assert.equal(statSync(stateDir).mode & 0o777, 0o700)
    assert.equal(statSync(join(stateDir, 'state.json')).mode & 0o777, 0o600)
  })

  it('each printed MCP URL answers from the machine\'s own namespace, with that node\'s certificate', async () => {
    assert.equal(printed.length, 3)
    for (const p of printed) {
      const origin = new URL(p.mcpUrl).origin
      const res = await request1(`${origin}/readyz`, { ca: readFileSync(p.caFile, 'utf8') })
      assert.equal(res.status, 200)
      assert.deepEqual(res.json(), { status: 'ready' })
      const info = await request1(`${origin}/mcp/node/info`, { ca: readFileSync(p.caFile, 'utf8') })
      assert.equal(info.json<{ node_id: string }>().node_id, p.nodeId, `${origin} is node ${p.index}`)
      // Another node's certificate is not this one's: the pin is real.
      const other = printed.find((o) => o !== p)!
      await assert.rejects(request1(`${origin}/readyz`, { ca: readFileSync(other.caFile, 'utf8') }), /self[- ]signed|certificate/i)
    }
  })

  it('with the printed token, list_peers on each node shows the other two nodes as online members', async () => {
    assert.equal(printed.length, 3)
    for (const p of printed) {
      const res = await request1(`${new URL(p.mcpUrl).origin}/mcp/tools/call`, {
        ca: readFileSync(p.caFile, 'utf8'), method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'list_peers' })
      })
      assert.equal(res.status, 200, res.body)
      const peers = res.json<{ structuredContent: { peers: Array<{ peer_id: string, status: string, member: boolean }> } }>().structuredContent.peers
      for (const other of printed.filter((o) => o !== p)) {
        const seen = peers.find((x) => x.peer_id === other.peerId)
        assert.equal(seen?.status, 'online', `node ${p.index} sees node ${other.index} online; saw ${JSON.stringify(seen)}`)
        assert.equal(seen?.member, true)
      }
    }
  })

  it('the nodes run in network namespaces of their own; only the loopback forwarders run in the machine\'s', () => {
    const own = readlinkSync('/proc/self/ns/net')
    assert.equal(state.nodes.length, 3)
    const nodeNets = new Set<string>()
    for (const n of state.nodes) {
      const nodeNet = readlinkSync(`/proc/${n.pids.node!}/ns/net`)
      assert.notEqual(nodeNet, own, `node ${n.index} is not in the machine's namespace`)
      assert.equal(readlinkSync(`/proc/${n.pids.inner!}/ns/net`), nodeNet, 'the inner forwarder shares the node\'s namespace')
      assert.equal(readlinkSync(`/proc/${n.pids.outer!}/ns/net`), own, 'the outer forwarder is the only part in the machine\'s namespace')
      assert.ok(namespaces().includes(n.ns))
      nodeNets.add(nodeNet)
    }
    assert.equal(nodeNets.size, 3, 'one namespace per node')
  })

  it('the tests\' sweep of stale namespaces removes a dead test process\'s ehtest- namespaces but never the hive\'s', () => {
    // A namespace named as a test process that is gone would name it...
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    assert.equal(running(dead), false)
    const stale = `ehtest-${dead}-0000-h1`
    execFileSync('ip', ['netns', 'add', stale])
    try {
      const net = TestNetwork.create(1) // sweeps first
      net.destroy()
      assert.equal(namespaces().includes(stale), false, 'the dead test process\'s namespace was swept')
    } finally {
      if (namespaces().includes(stale)) execFileSync('ip', ['netns', 'del', stale])
    }
    const left = namespaces()
    assert.deepEqual(state.namespaces.filter((ns) => !left.includes(ns)), [], 'every namespace of the hive is still there')
    assert.ok(state.namespaces.every((ns) => ns.startsWith('ehhive-')))
  })

  it('up while the hive is up is refused with a clear message, and the hive keeps running', async () => {
    const r = await hive(['up'], env)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /a local hive is up already \(3 node\(s\), state in .*\): stop it with npm run hive -- down/)
    const p = printed[0]!
    assert.equal((await request1(`${new URL(p.mcpUrl).origin}/readyz`, { ca: readFileSync(p.caFile, 'utf8') })).status, 200)
  })

  it('down stops every process, removes the namespaces and the state dir; a second down says nothing is up', async () => {
    const pids = state.nodes.flatMap((n) => Object.values(n.pids)).filter((p): p is number => p !== undefined)
    assert.equal(pids.length, 9)
    assert.ok(pids.every(running))
    const r = await hive(['down'], env, { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /local hive down: stopped 9 process\(es\), removed 4 network namespace\(s\)/)
    assert.deepEqual(pids.filter(running), [], 'no process of the hive runs')
    const left = namespaces()
    assert.deepEqual(state.namespaces.filter((ns) => left.includes(ns)), [], 'no namespace of the hive is left')
    assert.equal(existsSync(stateDir), false)
    for (const n of state.nodes) assert.ok(await refused(n.port), `nothing listens on 127.0.0.1:${n.port}`)
    const again = await hive(['down'], env)
    assert.equal(again.code, 0)
    assert.match(again.stdout, /no local hive is up/)
  })
})
