// A local hive without containers: `npm run hive -- up [--nodes N]` / `npm run hive -- down`.
//
// Each node runs in a network namespace of its own (ehhive-<tag>-hN), on a private bridge in a
// further namespace (ehhive-<tag>-sw) attached to no real interface, so mDNS and libp2p traffic
// stay inside. The operator reaches node N from the machine's own namespace at
// https://127.0.0.1:<base port + N> through a forwarder pair joined by a unix socket (the file
// system is shared between namespaces; no network link to the machine's namespace is made).
import { execFile, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { request as httpsRequest } from 'node:https'
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { HIVE_PREFIX, NetnsNetwork, namespaceExists, netnsUnavailable } from './lib/netns.ts'
import { cleanEnv, readyLineOf } from './lib/node-process.ts'
import { log, readState, running, sleep, teardown, writeState, type HiveState, type NodeState } from './lib/local-hive-state.ts'

const exec = promisify(execFile)

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
const FORWARD = fileURLToPath(new URL('./lib/forward.ts', import.meta.url))
const DEFAULT_STATE_DIR = '/run/edge-hive-local-hive'
const DEFAULT_BASE_PORT = 8080
/** The node's HTTPS port inside its own namespace (each namespace has its own loopback). */
const INNER_PORT = 8443
const MAX_NODES = 10
const READY_TIMEOUT_MS = 60_000
const ONLINE_TIMEOUT_MS = 60_000

const USAGE = `usage: npm run hive -- up [--nodes N]   start N nodes (1 to ${MAX_NODES}, default 3) in network namespaces and form a hive
       npm run hive -- down                stop them and remove the namespaces and the state
environment: LOCAL_HIVE_DIR (state, logs and data; default ${DEFAULT_STATE_DIR})
             LOCAL_HIVE_BASE_PORT (node N is served at https://127.0.0.1:<base + N>; default ${DEFAULT_BASE_PORT})
`

class UsageError extends Error {}
class Failure extends Error {}

function settings (): { stateDir: string, basePort: number } {
  const stateDir = process.env.LOCAL_HIVE_DIR ?? DEFAULT_STATE_DIR
  if (!isAbsolute(stateDir) || stateDir === '/') throw new UsageError(`LOCAL_HIVE_DIR must be an absolute path other than /, got ${JSON.stringify(stateDir)}`)
  const rawPort = process.env.LOCAL_HIVE_BASE_PORT ?? String(DEFAULT_BASE_PORT)
  const basePort = Number(rawPort)
  if (!/^\d+$/.test(rawPort) || basePort < 1 || basePort + MAX_NODES > 65535) throw new UsageError(`LOCAL_HIVE_BASE_PORT must be a whole number from 1 to ${65535 - MAX_NODES}, got ${JSON.stringify(rawPort)}`)
  return { stateDir, basePort }
}

function parseArgs (argv: string[]): { command: 'up', nodes: number } | { command: 'down' } | { command: 'help' } {
  const [command, ...rest] = argv
  if (command === undefined) throw new UsageError('no command given')
  if (command === 'help' || command === '--help' || command === '-h') return { command: 'help' }
  if (command === 'down') {
    if (rest.length > 0) throw new UsageError(`down takes no arguments, got ${rest.join(' ')}`)
    return { command: 'down' }
  }
  if (command !== 'up') throw new UsageError(`unknown command ${JSON.stringify(command)}`)
  let nodes = 3
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    let value: string | undefined
    if (arg === '--nodes') value = rest[++i]
    else if (arg.startsWith('--nodes=')) value = arg.slice('--nodes='.length)
    else throw new UsageError(`unknown option ${JSON.stringify(arg)}`)
    if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_NODES) {
      throw new UsageError(`--nodes must be a whole number from 1 to ${MAX_NODES}, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`)
    }
    nodes = Number(value)
  }
  return { command: 'up', nodes }
}

/** Settings of the user's own shell must not reach the hive's nodes (they refuse unknown EDGE_HIVE_* names, too). */
function nodeEnv (): Record<string, string> {
  return cleanEnv({}, ['LOCAL_HIVE_'])
}

function requireRoot (what: string): void {
  if (process.getuid?.() !== 0) throw new Failure(`${what} needs root: it makes network namespaces (try: sudo npm run hive -- ${what.split(' ')[0]})`)
}

// ---------------------------------------------------------------------------------------------
// Helpers for up

async function portFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

function tail (file: string, lines = 15): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n') } catch { return '    (no log)' }
}

/** Set once `up` is being undone: from then on nothing new is started. */
let aborting = false

/** Starts a process in the background, in a session of its own, its output appended to `logFile`. */
function startDetached (cmd: string, args: string[], logFile: string, env: Record<string, string>): number {
  if (aborting) throw new Failure('interrupted')
  const fd = openSync(logFile, 'a', 0o600)
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env })
    child.on('error', () => { /* reported through the log and the pid check */ })
    child.unref()
    if (child.pid === undefined) throw new Failure(`could not start ${cmd}`)
    return child.pid
  } finally {
    closeSync(fd)
  }
}

/** Waits for a log line that `match` accepts, while `pid` runs. */
async function waitForLog<T> (logFile: string, pid: number, timeoutMs: number, what: string, match: (line: string) => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let text = ''
    try { text = readFileSync(logFile, 'utf8') } catch { /* not yet */ }
    for (const line of text.split('\n')) {
      const found = match(line)
      if (found !== undefined) return found
    }
    if (!running(pid)) throw new Failure(`${what}: the process exited; the end of ${logFile}:\n${tail(logFile)}`)
    if (Date.now() > deadline) throw new Failure(`${what}: nothing within ${timeoutMs / 1000} s; the end of ${logFile}:\n${tail(logFile)}`)
    await sleep(200)
  }
}

/** HTTPS from the machine's namespace, trusting exactly the node's certificate. */
async function pinned (url: string, ca: string, options: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: options.method ?? 'GET', headers: options.headers, ca, agent: false, timeout: 10_000 }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer within 10 s`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

// ---------------------------------------------------------------------------------------------
// up

async function up (nodes: number, stateDir: string, basePort: number): Promise<void> {
  requireRoot('up')
  const why = netnsUnavailable(HIVE_PREFIX)
  if (why !== undefined) throw new Failure(why)
  if (!existsSync(CLI)) throw new Failure(`${CLI} is missing: run npm run build first`)

  const existing = readState(stateDir)
  if (existing !== undefined) {
    throw new Failure(`a local hive is up already (${existing.nodes.length} node(s), state in ${stateDir}): stop it with npm run hive -- down`)
  }
  if (existsSync(stateDir)) throw new Failure(`${stateDir} exists but holds no hive state (left by an interrupted run?): npm run hive -- down removes it`)

  const ports = Array.from({ length: nodes }, (_, i) => basePort + i + 1)
  for (const port of ports) {
    if (!(await portFree(port))) throw new Failure(`127.0.0.1:${port} is in use: stop what listens there, or choose other ports with LOCAL_HIVE_BASE_PORT (node N gets base + N)`)
  }

  mkdirSync(dirname(stateDir), { recursive: true })
  try {
    mkdirSync(stateDir, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Failure(`a local hive is being set up or is up already in ${stateDir}: npm run hive -- down`)
    throw err
  }
  chmodSync(stateDir, 0o700)

  const state: HiveState = { version: 1, createdAt: new Date().toISOString(), complete: false, namespaces: [], nodes: [] }
  writeState(stateDir, state)

  let cleaning: Promise<void> | undefined
  const abort = async (reason: string, code: number): Promise<never> => {
    // A second signal while cleaning up waits for the same clean-up rather than cutting it short.
    aborting = true
    cleaning ??= (async () => {
      log(`${reason}; removing what was made...`)
      const { processes, namespaces } = await teardown(stateDir, state)
      log(`removed: ${processes} process(es), ${namespaces} namespace(s), ${stateDir}`)
    })()
    await cleaning
    process.exit(code)
  }
  const onSignal = (signal: NodeJS.Signals): void => { void abort(`interrupted by ${signal}`, 130) }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSignal)

  try {
    let tag = randomBytes(2).toString('hex')
    while (namespaceExists(`${HIVE_PREFIX}${tag}-sw`)) tag = randomBytes(2).toString('hex')
    log(`making ${nodes} network namespace(s) ${HIVE_PREFIX}${tag}-h1${nodes > 1 ? `..h${nodes}` : ''} on a private bridge (${HIVE_PREFIX}${tag}-sw)`)
    // Named in the state before they exist, so that a `down` after a crash right here still finds them.
    state.namespaces = [...Array.from({ length: nodes }, (_, i) => `${HIVE_PREFIX}${tag}-h${i + 1}`), `${HIVE_PREFIX}${tag}-sw`]
    writeState(stateDir, state)
    const net = NetnsNetwork.create(nodes, { prefix: HIVE_PREFIX, tag })
    state.namespaces = net.namespaces
    writeState(stateDir, state)

    const env = nodeEnv()
    for (const [i, host] of net.hosts.entries()) {
      const index = i + 1
      const dir = join(stateDir, `node-${index}`)
      const dataDir = join(dir, 'data')
      mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      const url = `https://127.0.0.1:${ports[i]!}`
      const node: NodeState = { index, name: `local-hive-${index}`, ns: host.ns, ip: host.ip, port: ports[i]!, dir, dataDir, socket: join(dir, 'https.sock'), url, pids: {} }
      state.nodes.push(node)
      const argv = [process.execPath, CLI, 'serve', '--name', node.name, '--data-dir', dataDir,
        '--host', '127.0.0.1', '--port', String(INNER_PORT), '--public-url', url, '--oauth2-issuer', url,
        '--store', `surrealkv://${join(dataDir, 'db')}`, '--p2p-listen', '/ip4/0.0.0.0/tcp/4001', '--discovery']
      const { cmd, args } = net.command(host, argv)
      node.pids.node = startDetached(cmd, args, join(dir, 'node.log'), env)
      writeState(stateDir, state)
    }
    log(`starting ${nodes} node(s); logs in ${stateDir}/node-N/node.log`)

    await Promise.all(state.nodes.map(async (node) => {
      const ready = await waitForLog(join(node.dir, 'node.log'), node.pids.node!, READY_TIMEOUT_MS, `node ${node.index} did not become ready`, readyLineOf)
      node.nodeId = String(ready.node_id)
      node.peerId = String(ready.peer_id)
    }))
    writeState(stateDir, state)

    // The way in from the machine's namespace: 127.0.0.1:<port> -> unix socket -> the node's 127.0.0.1:<INNER_PORT>.
    for (const node of state.nodes) {
      const host = net.hosts[node.index - 1]!
      const inner = net.command(host, [process.execPath, FORWARD, 'unix-to-tcp', node.socket, String(INNER_PORT)])
      node.pids.inner = startDetached(inner.cmd, inner.args, join(node.dir, 'forward-inner.log'), env)
      writeState(stateDir, state)
      await waitForLog(join(node.dir, 'forward-inner.log'), node.pids.inner, 10_000, `the forwarder in ${node.ns} did not start`, (l) => l.startsWith('forward: listening') ? true : undefined)
      node.pids.outer = startDetached(process.execPath, [FORWARD, 'tcp-to-unix', String(node.port), node.socket], join(node.dir, 'forward-outer.log'), env)
      writeState(stateDir, state)
      await waitForLog(join(node.dir, 'forward-outer.log'), node.pids.outer, 10_000, `the forwarder on 127.0.0.1:${node.port} did not start`,
        (l) => l.startsWith('forward: listening') ? true : undefined)
      const ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
      const res = await pinned(`${node.url}/readyz`, ca)
      if (res.status !== 200) throw new Failure(`${node.url}/readyz answered ${res.status}: ${res.body}`)
    }
    log(`nodes answer at ${state.nodes.map((n) => n.url).join(' ')}`)

    // Membership: node 1 founds the hive and invites each of the others.
    const cli = async (node: NodeState, args: string[]): Promise<string> => {
      const { cmd, args: full } = net.command(net.hosts[node.index - 1]!, [process.execPath, CLI, ...args, '--data-dir', node.dataDir])
      try {
        return (await exec(cmd, full, { env, timeout: 60_000 })).stdout
      } catch (err) {
        const e = err as Error & { stderr?: string }
        throw new Failure(`edge-hive ${args.slice(0, 2).join(' ')} on node ${node.index} failed: ${(e.stderr ?? e.message).trim()}`)
      }
    }
    const [first, ...others] = state.nodes as [NodeState, ...NodeState[]]
    state.hiveId = (JSON.parse(await cli(first, ['hive', 'init', '--json'])) as { hive_id: string }).hive_id
    log(`node 1 founded ${state.hiveId}`)
    const tokens: string[] = []
    for (let i = 0; i < others.length; i++) tokens.push((JSON.parse(await cli(first, ['hive', 'invite', '--json', '--ttl', '10m'])) as { token: string }).token)
    await Promise.all(others.map(async (node, i) => { await cli(node, ['hive', 'join', '--json', tokens[i]!]) }))
    if (others.length > 0) log(`nodes ${others.map((n) => n.index).join(', ')} joined; waiting until every node sees every other online`)

    type Peer = { peer_id: string, status: string, member: boolean }
    const views = async (): Promise<Peer[][]> => await Promise.all(state.nodes.map(async (n) => (JSON.parse(await cli(n, ['peers', 'list', '--json'])) as { peers: Peer[] }).peers))
    const missing = (vs: Peer[][]): string[] => state.nodes.flatMap((n, i) => state.nodes.filter((o) => o !== n).flatMap((o) => {
      const p = vs[i]!.find((x) => x.peer_id === o.peerId)
      return p?.status === 'online' && p.member ? [] : [`node ${n.index} sees node ${o.index} ${p === undefined ? 'not at all' : `${p.status}${p.member ? '' : ', not a member'}`}`]
    }))
    const deadline = Date.now() + ONLINE_TIMEOUT_MS
    let gaps = missing(await views())
    while (gaps.length > 0 && Date.now() < deadline) {
      await sleep(500)
      gaps = missing(await views())
    }
    if (gaps.length > 0) throw new Failure(`the hive did not form within ${ONLINE_TIMEOUT_MS / 1000} s: ${gaps.join('; ')}`)

    // An operator token for each node, asked for the way an operator would: from this namespace.
    const out: string[] = [`local hive up: ${nodes} node(s) in ${state.hiveId}${nodes > 1 ? ', every node sees every other online' : ''}`, '']
    for (const node of state.nodes) {
      const ca = join(node.dataDir, 'tls', 'cert.pem')
      const op = JSON.parse(readFileSync(join(node.dataDir, 'operator-client.json'), 'utf8')) as { client_id: string, client_secret: string }
      const res = await pinned(`${node.url}/oauth/token`, readFileSync(ca, 'utf8'), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(op.client_id)}:${encodeURIComponent(op.client_secret)}`).toString('base64')}`
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }).toString()
      })
      if (res.status !== 200) throw new Failure(`node ${node.index}'s token endpoint answered ${res.status}: ${res.body}`)
      const token = JSON.parse(res.body) as { access_token: string, expires_in: number }
      const tokenFile = join(node.dir, 'token')
      writeFileSync(tokenFile, token.access_token + '\n', { mode: 0o600 })
      chmodSync(tokenFile, 0o600)
      out.push(
        `node ${node.index} (${node.name}, namespace ${node.ns}, ${node.ip})`,
        `  MCP URL  ${node.url}/mcp`,
        `  node id  ${node.nodeId!}`,
        `  peer id  ${node.peerId!}`,
        `  CA cert  ${ca}`,
        `  token    ${token.access_token}`,
        `           (operator token, all scopes, valid ${Math.round(token.expires_in / 60)} min; also in ${tokenFile}, mode 0600)`,
        ''
      )
    }
    state.complete = true
    writeState(stateDir, state)
    out.push(
      `example: curl --cacert ${join(first.dataDir, 'tls', 'cert.pem')} -H "Authorization: Bearer $(cat ${join(first.dir, 'token')})" \\`,
      `           -H 'content-type: application/json' -d '{"name":"list_peers"}' ${first.url}/mcp/tools/call`,
      `logs and data: ${stateDir}/node-N/ (node.log, forward-*.log, data/)`,
      'stop: npm run hive -- down',
      ''
    )
    process.stdout.write(out.join('\n'))
  } catch (err) {
    await abort(err instanceof Failure ? `up failed: ${err.message}` : `up failed: ${(err as Error).stack ?? String(err)}`, 1)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onSignal)
  }
}

// ---------------------------------------------------------------------------------------------
// down

async function down (stateDir: string): Promise<void> {
  const state = readState(stateDir)
  if (state === undefined && !existsSync(stateDir)) {
    process.stdout.write(`no local hive is up (nothing in ${stateDir})\n`)
    return
  }
  requireRoot('down')
  if (state === undefined) log(`${stateDir} holds no readable hive state: removing it`)
  else log(`stopping the local hive in ${stateDir} (${state.nodes.length} node(s))`)
  const { processes, namespaces } = await teardown(stateDir, state)
  process.stdout.write(`local hive down: stopped ${processes} process(es), removed ${namespaces} network namespace(s) and ${stateDir}\n`)
}

// ---------------------------------------------------------------------------------------------

try {
  const parsed = parseArgs(process.argv.slice(2))
  const { stateDir, basePort } = settings()
  if (parsed.command === 'help') process.stdout.write(USAGE)
  else if (parsed.command === 'up') await up(parsed.nodes, stateDir, basePort)
  else await down(stateDir)
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n${USAGE}`)
    process.exit(2)
  }
  process.stderr.write(`error: ${err instanceof Failure ? err.message : (err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
