import { Surreal, createRemoteEngines } from 'surrealdb'
import { createNodeEngines } from '@surrealdb/node'
import { messageOf } from '../../shared/errors.ts'
import { StoreOpenError } from '../errors.ts'
import type { ClientRepository, Store, StoreOptions } from '../types.ts'
import { MIGRATIONS } from './migrations.ts'
import { SurrealAuditLog } from './audit-log.ts'
import { SurrealClientRepository } from './clients.ts'
import { CachedClientRepository } from '../cached-clients.ts'
import { SurrealOAuthPayloadStore } from './oauth-payloads.ts'
import { SurrealRevocationRepository } from './revocations.ts'
import { SurrealHiveRepository } from './hive.ts'
import { SurrealPeerRepository } from './peers.ts'
import { SurrealOperatorRepository } from './operator.ts'
import { makePrivate, storePath } from './private-files.ts'

const OPEN_TIMEOUT_MS = 15_000
const CLOSE_TIMEOUT_MS = 5_000

function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/** The URL without credentials, for messages. */
function safeUrl (url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//')
}

async function migrate (db: Surreal): Promise<number> {
  await db.query(
    'DEFINE TABLE IF NOT EXISTS schema_migration SCHEMAFULL; DEFINE FIELD IF NOT EXISTS version ON schema_migration TYPE int; DEFINE FIELD IF NOT EXISTS name ON schema_migration TYPE string; DEFINE FIELD IF NOT EXISTS applied_at ON schema_migration TYPE datetime;'
  ).collect()
  const [rows] = await db.query<[Array<{ version: number }>]>('SELECT version FROM schema_migration').collect()
  const applied = new Set((rows ?? []).map((r) => Number(r.version)))
  const newest = Math.max(0, ...applied)
  const known = Math.max(0, ...MIGRATIONS.map((m) => m.version))
  if (newest > known) {
    throw new StoreOpenError(`the store was written by a newer Edge Hive (schema version ${newest}; this version knows up to ${known}); upgrade Edge Hive or use another store`)
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue
    // One transaction per step: a failed step leaves no half-applied schema behind.
    await db.query(`BEGIN TRANSACTION; ${m.surql}; CREATE type::record('schema_migration', $version) CONTENT { version: $version, name: $name, applied_at: time::now() }; COMMIT TRANSACTION;`,
      { version: m.version, name: m.name }).collect()
  }
  return known
}

class SurrealStore implements Store {
  readonly audit: SurrealAuditLog
  readonly clients: ClientRepository
  readonly oauthPayloads: SurrealOAuthPayloadStore
  readonly revocations: SurrealRevocationRepository
  readonly hive: SurrealHiveRepository
  readonly peers: SurrealPeerRepository
  readonly operator: SurrealOperatorRepository
  readonly schemaVersion: number
  readonly #db: Surreal
  #closed?: Promise<void>

  constructor (db: Surreal, schemaVersion: number) {
    this.#db = db
    this.schemaVersion = schemaVersion
    this.audit = new SurrealAuditLog(db)
    this.clients = new CachedClientRepository(new SurrealClientRepository(db))
    this.oauthPayloads = new SurrealOAuthPayloadStore(db)
    this.revocations = new SurrealRevocationRepository(db)
    this.hive = new SurrealHiveRepository(db)
    this.peers = new SurrealPeerRepository(db)
    this.operator = new SurrealOperatorRepository(db)
  }

  async ping (): Promise<boolean> {
    if (this.#closed !== undefined) return false
    try {
      const [one] = await withTimeout(this.#db.query<[number]>('RETURN 1').collect(), 2_000, 'store ping')
      return one === 1
    } catch {
      return false
    }
  }

  close (): Promise<void> {
    // Bounded: the embedded engine has been seen to hang on close; the CLI exits anyway.
    this.#closed ??= withTimeout(this.#db.close().then(() => undefined), CLOSE_TIMEOUT_MS, 'store close').catch(() => undefined)
    return this.#closed
  }
}

/** Opens the store at `options.url` and brings its schema up to date. */
export async function openSurrealStore (options: StoreOptions): Promise<Store> {
  const db = new Surreal({ engines: { ...createRemoteEngines(), ...createNodeEngines() } })
  const remote = /^wss?:/.test(options.url)
  try {
    await withTimeout(db.connect(options.url, {
      namespace: options.namespace,
      database: options.database,
      ...(remote ? { reconnect: true } : {}),
      ...(remote && options.username !== undefined
        ? { authentication: { username: options.username, password: options.password ?? '' } }
        : {})
    }), options.connectTimeoutMs ?? OPEN_TIMEOUT_MS, 'connecting to the store')
    const version = await migrate(db)
    const path = storePath(options.url)
    if (path !== undefined) makePrivate(path)
    return new SurrealStore(db, version)
  } catch (err) {
    await withTimeout(db.close(), CLOSE_TIMEOUT_MS, 'store close').catch(() => undefined)
    if (err instanceof StoreOpenError) throw err
    throw new StoreOpenError(`cannot open store ${safeUrl(options.url)}: ${messageOf(err)}`, { cause: err })
  }
}
