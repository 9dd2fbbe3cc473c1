// Forms a hive among containers without manual steps (docker-compose.yml runs every node under it).
// Plain Node.js, because the distroless runtime image has no shell.
//
//   node docker/form-hive.mjs found --invitations <dir> --invite <name> [--invite <name> ...]
//                                   [--ttl 1h] [--check-every 30s] [-- serve <flags>]
//   node docker/form-hive.mjs join  --invitations <dir> --as <name> [-- serve <flags>]
//
// Either way it runs `edge-hive serve <flags>` as its child (the words after `--`; `serve` alone
// by default), passes SIGTERM/SIGINT/SIGHUP on to it and exits with its exit code. The data dir
// comes from the environment (EDGE_HIVE_DATA_DIR, as the image sets it) or from --data-dir /
// --config among the serve flags; the edge-hive commands below use the same.
//
// found: once the node is ready, `edge-hive hive init` unless it is a member of a hive already;
//   then, now and every --check-every, for each --invite name that has no <name>.joined.json in
//   the invitations dir and no unexpired <name>.invitation.json: `edge-hive hive invite --ttl <ttl>
//   --uses 1 --json`, written to <name>.invitation.json (mode 0600, written whole then renamed).
//   An invitation that expired unused is replaced by a fresh one.
// join: waits for an unexpired <name>.invitation.json, then starts the node with the token in
//   EDGE_HIVE_JOIN_TOKEN (the node joins at start, retrying while the founder is unreachable).
//   Once `edge-hive hive members` shows it a member it writes <name>.joined.json (peer id, hive id:
//   no secret) and deletes the invitation. If the token expires first, it stops the node and
//   starts it again with the fresh invitation the founder writes. With <name>.joined.json
//   present it starts the node without a token: its membership is in its own data dir.
//   It never asks for a new invitation for a member that lost its membership (a removal, or a
//   data volume deleted): re-admitting it is the operator's call (delete <name>.joined.json and
//   restart it; a removed peer id is refused by the hive, so only a new identity can come back).
//
// Tokens are secrets: never logged, never on a command line (the child gets its token in its
// environment), files 0600 in a directory the script creates 0700.
import { execFile, spawn } from 'node:child_process'
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

/** The built CLI, next to this script in the app directory (/app/dist/cli/main.js in the image). */
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))

/** Every edge-hive command this script runs besides `serve` (the container test checks them against the CLI). */
export const CALLS = {
  status: () => ['status', '--json'],
  members: () => ['hive', 'members', '--json'],
  init: () => ['hive', 'init', '--json'],
  invite: (ttl) => ['hive', 'invite', '--ttl', ttl, '--uses', '1', '--json']
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const EXIT_USAGE = 2
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }

export const invitationFile = (dir, name) => join(dir, `${name}.invitation.json`)
export const joinedFile = (dir, name) => join(dir, `${name}.joined.json`)

function log (msg) {
  process.stderr.write(`form-hive: ${msg}\n`)
}

class UsageError extends Error {}

/** `500ms`, `30s`, `15m`, `1h`, `7d`, or a bare number of seconds, in milliseconds. */
export function parseDuration (text) {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(String(text).trim())
  if (m === null) return undefined
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's']
}

/** Parses the script's own arguments; `--` separates the edge-hive command it runs. */
export function parseCommandLine (argv) {
  const cut = argv.indexOf('--')
  const own = cut === -1 ? argv : argv.slice(0, cut)
  const serveArgs = cut === -1 ? ['serve'] : argv.slice(cut + 1)
  let parsed
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        invitations: { type: 'string' },
        invite: { type: 'string', multiple: true },
        as: { type: 'string' },
        ttl: { type: 'string', default: '1h' },
        'check-every': { type: 'string', default: '30s' }
      }
    })
  } catch (err) {
    throw new UsageError(err.message)
  }
  const { values, positionals } = parsed
  const mode = positionals[0]
  if (positionals.length !== 1 || (mode !== 'found' && mode !== 'join')) throw new UsageError('say `found` or `join`')
  if (values.invitations === undefined) throw new UsageError('--invitations <dir> is required')
  if (serveArgs[0] !== 'serve') throw new UsageError(`the command after -- must be \`serve ...\`, not \`${serveArgs.join(' ')}\``)
  const ttlMs = parseDuration(values.ttl)
  if (ttlMs === undefined || ttlMs < 1000) throw new UsageError(`--ttl ${values.ttl} is not a duration like 30m or 1h`)
  const checkEveryMs = parseDuration(values['check-every'])
  if (checkEveryMs === undefined || checkEveryMs < 100) throw new UsageError(`--check-every ${values['check-every']} is not a duration like 30s`)
  const names = mode === 'found' ? (values.invite ?? []) : [values.as]
  if (mode === 'found' && values.as !== undefined) throw new UsageError('--as is for join')
  if (mode === 'join' && values.invite !== undefined) throw new UsageError('--invite is for found')
  if (names.length === 0 || names.some((n) => n === undefined)) throw new UsageError(mode === 'found' ? 'name at least one --invite <name>' : '--as <name> is required')
  for (const n of names) if (!NAME.test(n)) throw new UsageError(`${JSON.stringify(n)} is not a name of letters, digits, _ . - (at most 64)`)
  return { mode, dir: values.invitations, names, ttl: values.ttl, ttlMs, checkEveryMs, serveArgs }
}

/** The --data-dir and --config flags among the serve flags, for the edge-hive commands run beside it. */
export function dataDirFlags (serveArgs) {
  const out = []
  for (let i = 0; i < serveArgs.length; i++) {
    const a = serveArgs[i]
    if (a === '--data-dir' || a === '--config') out.push(a, serveArgs[++i])
    else if (a.startsWith('--data-dir=') || a.startsWith('--config=')) out.push(a)
  }
  return out
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Reads a JSON file, or undefined when it is missing or unreadable. */
function readJson (file) {
  try { return JSON.parse(readFileSync(file, 'utf8')) } catch { return undefined }
}

/** Writes a whole file with mode 0600: a temporary file renamed over the target, so readers never see half. */
function writeSecretFile (file, text) {
  const tmp = `${file}.${process.pid}.tmp`
  rmSync(tmp, { force: true })
  const fd = openSync(tmp, 'wx', 0o600)
  try { writeSync(fd, text) } finally { closeSync(fd) }
  renameSync(tmp, file)
}

/** An invitation file that holds a token valid for at least a few more seconds. */
export function usableInvitation (file, now = Date.now()) {
  const inv = readJson(file)
  if (typeof inv?.token !== 'string' || !inv.token.startsWith('ehi_')) return undefined
  const expires = Date.parse(inv.expires_at)
  return Number.isFinite(expires) && expires > now + 5000 ? { token: inv.token, expiresAt: expires } : undefined
}

class Supervisor {
  constructor (opts) {
    this.o = opts
    this.child = undefined
    this.stopping = false
    this.cliEnv = { ...process.env }
    delete this.cliEnv.EDGE_HIVE_JOIN_TOKEN
    this.cliFlags = dataDirFlags(opts.serveArgs)
    // Should this script end unexpectedly, its node does not outlive it.
    process.on('exit', () => { if (this.child !== undefined && !this.child.done) this.child.process.kill('SIGTERM') })
    for (const [name, number] of Object.entries(SIGNALS)) {
      process.on(name, () => {
        this.stopping = true
        if (this.child === undefined) process.exit(128 + number)
        this.child.process.kill(name)
      })
    }
  }

  /** Runs one edge-hive command; resolves with its parsed JSON output, rejects with its error line. */
  cli (args) {
    return new Promise((resolve, reject) => {
      execFile(process.execPath, [CLI, ...args, ...this.cliFlags], { env: this.cliEnv, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        // stdout may hold a token: it never goes into an error message.
        if (err !== null) { reject(new Error(`edge-hive ${args.slice(0, 2).join(' ')}: ${stderr.trim().split('\n')[0] || err.message}`)); return }
        try { resolve(JSON.parse(stdout)) } catch { reject(new Error(`edge-hive ${args.slice(0, 2).join(' ')} printed no JSON`)) }
      })
    })
  }

  /** Starts `edge-hive serve ...`; its output goes straight to ours. */
  start (extraEnv = {}) {
    // A process group of its own: a Ctrl-C in a terminal reaches this script alone, which passes
    // it on once (the node takes a second signal as "exit at once").
    const child = spawn(process.execPath, [CLI, ...this.o.serveArgs], { env: { ...this.cliEnv, ...extraEnv }, stdio: 'inherit', detached: true })
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
    const entry = { process: child, exited, done: false }
    exited.then(() => { entry.done = true })
    this.child = entry
    return entry
  }

  /** Stops the child for a restart (not the end of the script). */
  async restart (child) {
    child.process.kill('SIGTERM')
    await child.exited
  }

  /** Polls until the child's node reports ready; false when the child ended first. */
  async ready (child) {
    let last = Date.now()
    while (!child.done) {
      try {
        await this.cli(CALLS.status())
        return true
      } catch { /* not yet */ }
      if (Date.now() - last > 30_000) { log('waiting for the node to be ready'); last = Date.now() }
      await Promise.race([sleep(1000), child.exited])
    }
    return false
  }

  async members () {
    return await this.cli(CALLS.members())
  }

  async found () {
    // The invitations dir holds secrets: this script's user alone may enter it.
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 })
    try { chmodSync(this.o.dir, 0o700) } catch (err) { log(`cannot make ${this.o.dir} private (${err.code}); the invitation files are 0600 all the same`) }
    const child = this.start()
    if (await this.ready(child)) {
      let reported = false
      while (!child.done) {
        try {
          const { hive_id: hive } = await this.members()
          const hiveId = hive ?? (await this.cli(CALLS.init())).hive_id
          if (hive === null) log(`founded hive ${hiveId}`)
          const states = []
          for (const name of this.o.names) states.push(`${name} ${await this.invite(name, hiveId)}`)
          // Once per start: where each node stands.
          if (!reported) { log(`hive ${hiveId}: ${states.join(', ')}`); reported = true }
        } catch (err) {
          log(`${err.message}; trying again in ${this.o.checkEveryMs / 1000}s`)
        }
        await Promise.race([sleep(this.o.checkEveryMs), child.exited])
      }
    }
    return await child.exited
  }

  /** Writes an invitation for `name` unless it joined or has a usable one; says which. */
  async invite (name, hiveId) {
    const file = invitationFile(this.o.dir, name)
    if (existsSync(joinedFile(this.o.dir, name))) return 'joined'
    if (usableInvitation(file) !== undefined) return 'invited'
    const r = await this.cli(CALLS.invite(this.o.ttl))
    writeSecretFile(file, `${JSON.stringify({ for: name, hive_id: hiveId, token: r.token, expires_at: r.expires_at, uses: r.uses })}\n`)
    // The node may have joined while this invitation was being made: then it is of no use.
    if (existsSync(joinedFile(this.o.dir, name))) { rmSync(file, { force: true }); return 'joined' }
    log(`wrote an invitation for ${name} to ${file} (valid until ${r.expires_at})`)
    return 'invited'
  }

  async join () {
    const name = this.o.names[0]
    const invFile = invitationFile(this.o.dir, name)
    const markFile = joinedFile(this.o.dir, name)
    let waitingSince = Date.now()
    while (!this.stopping) {
      const inv = usableInvitation(invFile)
      const marked = existsSync(markFile)
      if (inv === undefined && !marked) {
        if (Date.now() - waitingSince > 30_000) { log(`waiting for ${invFile}`); waitingSince = Date.now() }
        await sleep(500)
        continue
      }
      const child = this.start(inv === undefined ? {} : { EDGE_HIVE_JOIN_TOKEN: inv.token })
      if (!(await this.ready(child))) return await child.exited
      // Until the node is a member; or, started without a token, until it has answered at all;
      // or until the token it was given has expired.
      let member
      while (!child.done) {
        try { member = await this.members() } catch (err) { member = undefined; log(err.message) }
        if (member !== undefined && (member.hive_id !== null || inv === undefined)) break
        if (inv !== undefined && inv.expiresAt <= Date.now()) break
        await Promise.race([sleep(1000), child.exited])
      }
      if (child.done) return await child.exited
      if (member?.hive_id != null) {
        const self = member.members.find((m) => m.self)
        writeSecretFile(markFile, `${JSON.stringify({ name, hive_id: member.hive_id, peer_id: self?.peer_id, node_id: self?.node_id, joined_at: new Date().toISOString() })}\n`)
        rmSync(invFile, { force: true })
        log(`${name} is a member of ${member.hive_id}`)
      } else if (inv === undefined) {
        log(
          `${markFile} says ${name} joined, but the node is not a member of a hive: it was removed (it stays out), or its data volume is new (then delete that file and restart it to have it invited)`
        )
      } else {
        log(`the invitation for ${name} expired before the node could join; starting again with a fresh one`)
        await this.restart(child)
        waitingSince = Date.now()
        continue
      }
      return await child.exited
    }
    return { code: null, signal: 'SIGTERM' }
  }
}

export async function main (argv) {
  let opts
  try {
    opts = parseCommandLine(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    log(
      `${err.message}\nusage: form-hive.mjs found --invitations <dir> --invite <name>... [--ttl 1h] [--check-every 30s] [-- serve <flags>]\n       form-hive.mjs join --invitations <dir> --as <name> [-- serve <flags>]`
    )
    return EXIT_USAGE
  }
  const s = new Supervisor(opts)
  const { code, signal } = opts.mode === 'found' ? await s.found() : await s.join()
  return code ?? 128 + (SIGNALS[signal] ?? 9)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Exit at once: a pending wait (--check-every) must not hold the process after the node ended.
  process.exit(await main(process.argv.slice(2)))
}
