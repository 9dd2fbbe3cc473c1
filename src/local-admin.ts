import type { Config } from './config/index.ts'
import { prepareDataDir, nodeDataDir, readLock, DataDirLock } from './config/index.ts'
import { cliName } from './shared/cli-name.ts'
import type { ClientRegistry, ClientView, NewClient, OperatorAccount } from './auth/index.ts'
// From their own modules, not the auth index: reaching a running node needs only the key and a
// signed token, and loading the whole authorization server for that was most of a CLI call's time.
import { loadOrCreateSigningKey } from './auth/signing-key.ts'
import { mintLocalAdminToken } from './auth/local-admin-token.ts'
import { StartupError } from './shared/errors.ts'

// What the CLI's local admin commands need besides a running node: a way to reach the running
// node's admin API, or the stopped node's store. Kept beside the composition root, which
// builds the same parts for a running node. The store and the registry load only when a
// stopped node's state is opened.

export type { ClientView, NewClient }

/** What local admin tools need to call the running node's admin API. */
export interface LocalAdminAccess {
  url: string
  fingerprint: string | undefined
  token: string
}

/**
 * For the CLI on the node's machine: the running node's URL and certificate fingerprint
 * (from its lock file) and a one-minute admin token signed with the node's key. Undefined
 * when no node holds the data dir.
 */
export async function localAdminAccess (dataDir: string): Promise<LocalAdminAccess | undefined> {
  const layout = nodeDataDir(dataDir, `${cliName()} serve`)
  const lock = readLock(layout)
  if (lock?.localUrl === undefined || lock.issuer === undefined || lock.resource === undefined) return undefined
  const key = await loadOrCreateSigningKey(layout.signingKey)
  return { url: lock.localUrl, fingerprint: lock.fingerprint, token: await mintLocalAdminToken(key, lock.issuer, lock.resource) }
}

/** A stopped node's state, opened by a local tool. `close()` releases it. */
export interface OfflineNodeState {
  registry: ClientRegistry
  operator: OperatorAccount
  close (): Promise<void>
}

/**
 * Opens a stopped node's store for a local admin tool, holding the data dir's lock meanwhile so
 * that a node cannot start on it halfway through.
 */
export async function openOfflineState (config: Config): Promise<OfflineNodeState> {
  if (config.store === 'mem://') {
    throw new StartupError('store_open', 'the node is not running and its store is mem:// (nothing is kept): start the node, or name its store with --store or EDGE_HIVE_STORE')
  }
  nodeDataDir(config.dataDir, `${cliName()} serve`)
  const layout = prepareDataDir(config.dataDir)
  const lock = DataDirLock.acquire(layout)
  try {
    const [{ openStore }, { OperatorAccount, RevocationList, operatorAdministration }] = await Promise.all([import('./store/index.ts'), import('./auth/index.ts')])
    const store = await openStore({ url: config.store, namespace: config.storeNamespace, database: config.storeDatabase, username: config.storeUsername, password: config.storePassword })
    // Revoking a client here ends its grants too; the revocations are stored, and the node
    // loads them when it starts.
    const { registry } = operatorAdministration({ clients: store.clients, oauthPayloads: store.oauthPayloads, revocations: new RevocationList(store.revocations), audit: store.audit }, {
      accessTokenTtlSeconds: Math.round(config.accessTokenTtl / 1000),
      registeredClientTtlSeconds: Math.round(config.registeredClientTtl / 1000)
    })
    return {
      registry,
      operator: new OperatorAccount(store.operator),
      async close () { await store.close(); lock.release() }
    }
  } catch (err) {
    lock.release()
    throw err
  }
}
