import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync, accessSync } from 'node:fs'
import { join } from 'node:path'
import { StartupError, UsageError } from '../shared/errors.ts'
import { writeFileAtomic } from '../shared/files.ts'

export { writeFileAtomic }

/** Where each file lives in a data dir. docs/operating.md, "Data directory", lists the same. */
export interface DataDirLayout {
  root: string
  /** libp2p protobuf Ed25519 private key: the node's identity. Secret. */
  identityKey: string
  /** Self-signed TLS certificate and its key (the key is secret). */
  tlsCert: string
  tlsKey: string
  /** Held by the running node: pid, URL and certificate fingerprint. */
  lock: string
  /** Default embedded SurrealDB directory. */
  db: string
  /** Ed25519 JWK the node signs access tokens with. Secret. */
  signingKey: string
  /** The first operator client's credentials, when no terminal was there to show them. Secret. */
  operatorClient: string
}

export function dataDirLayout (root: string): DataDirLayout {
  return {
    root,
    identityKey: join(root, 'identity.key'),
    tlsCert: join(root, 'tls', 'cert.pem'),
    tlsKey: join(root, 'tls', 'key.pem'),
    lock: join(root, 'node.lock'),
    db: join(root, 'db'),
    signingKey: join(root, 'oauth', 'signing-key.json'),
    operatorClient: join(root, 'operator-client.json')
  }
}

/**
 * The layout of a data dir that holds a node (its identity key is there), for every command but
 * `serve`: a mistyped `--data-dir` is said, instead of answered with an empty store made there.
 */
export function nodeDataDir (root: string, serve = 'edge-hive serve'): DataDirLayout {
  const layout = dataDirLayout(root)
  if (!existsSync(layout.identityKey)) {
    throw new UsageError(
      'no_node',
      `${root} holds no node (it has no identity.key): give a node's data dir with --data-dir or EDGE_HIVE_DATA_DIR, or start a node there first with \`${serve} --data-dir ${root}\``
    )
  }
  return layout
}

/** Creates the data dir (0700) if needed and checks that it is a writable directory. */
export function prepareDataDir (root: string): DataDirLayout {
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new StartupError('data_dir', `cannot create data directory ${root}: ${(err as NodeJS.ErrnoException).code}`, { cause: err })
  }
  const st = statSync(root)
  if (!st.isDirectory()) throw new StartupError('data_dir', `data directory ${root} is not a directory`)
  try {
    accessSync(root, constants.W_OK | constants.X_OK)
  } catch {
    throw new StartupError('data_dir', `data directory ${root} is not writable by this user (uid ${process.getuid?.() ?? '?'})`)
  }
  // Keys live here: nobody else should even list the directory.
  if ((st.mode & 0o077) !== 0) chmodSync(root, 0o700)
  return dataDirLayout(root)
}

/** What the running node writes into its lock file, for `edge-hive status` and for humans. */
export interface LockInfo {
  pid: number
  startedAt: string
  /** URL the node can be reached at from this machine (loopback when bound to a wildcard). */
  localUrl?: string
  /** SHA-256 fingerprint of the certificate served, `AB:CD:...`; absent with --insecure-http. */
  fingerprint?: string
  /** OAuth issuer and the resource tokens are for, so local tools can make admin tokens. */
  issuer?: string
  resource?: string
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Reads the lock file; undefined when there is none, or it names a process that is gone. */
export function readLock (layout: DataDirLayout): LockInfo | undefined {
  let info: LockInfo
  try {
    info = JSON.parse(readFileSync(layout.lock, 'utf8')) as LockInfo
  } catch {
    return undefined
  }
  if (!Number.isInteger(info.pid) || !isAlive(info.pid)) return undefined
  return info
}

/** The lock a running node holds on its data dir. */
export class DataDirLock {
  readonly #file: string
  #info: LockInfo
  #held = true

  private constructor (file: string, info: LockInfo) {
    this.#file = file
    this.#info = info
  }

  /**
   * Takes the data dir for this process. A lock left by a process that no longer exists is
   * taken over; one held by a live process is refused with its pid.
   */
  static acquire (layout: DataDirLayout): DataDirLock {
    const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(layout.lock, 'wx', 0o600)
        writeSync(fd, JSON.stringify(info))
        closeSync(fd)
        return new DataDirLock(layout.lock, info)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StartupError('data_dir', `cannot create lock file ${layout.lock}: ${(err as NodeJS.ErrnoException).code}`, { cause: err })
        }
        const holder = readLock(layout)
        if (holder !== undefined && holder.pid !== process.pid) {
          throw new StartupError('data_dir_locked', `data directory ${layout.root} is in use by another node (pid ${holder.pid}); stop it first or use another --data-dir`)
        }
        rmSync(layout.lock, { force: true }) // stale: its process is gone
      }
    }
    throw new StartupError('data_dir_locked', `data directory ${layout.root} is being taken by another process; try again`)
  }

  /** Adds what the node learned once listening (URL, fingerprint). */
  update (extra: Partial<LockInfo>): void {
    if (!this.#held) return
    this.#info = { ...this.#info, ...extra, pid: process.pid }
    writeFileAtomic(this.#file, JSON.stringify(this.#info), 0o600)
  }

  release (): void {
    if (!this.#held) return
    this.#held = false
    // Only remove a lock that is still ours.
    try {
      const current = JSON.parse(readFileSync(this.#file, 'utf8')) as LockInfo
      if (current.pid === process.pid) rmSync(this.#file, { force: true })
    } catch { /* already gone */ }
  }
}
