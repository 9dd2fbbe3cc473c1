import { hostname } from 'node:os'
import type { Config } from './config/index.ts'
import { prepareDataDir, DataDirLock, type DataDirLayout } from './config/index.ts'
import { loadOrCreateIdentity, loadOrCreateSelfSigned, loadProvidedCertificate, type NodeIdentity, type TlsMaterial } from './identity/index.ts'
import { openStore, AuditFeed, type Store } from './store/index.ts'
import {
  RevocationList, loadOrCreateSigningKey, OperatorAccount, operatorAdministration, type ClientRegistry, type Grants, type SigningKey
} from './auth/index.ts'
import type { Logger } from './shared/logger.ts'
import { instrumentRepositories, type NodeMetrics } from './shared/metrics.ts'

/**
 * What every other part of a node stands on, opened first and closed last: the data dir (held
 * by its lock), the identity, the TLS material, the store with its audit feed, the token
 * signing key, revocations, the client registry and grants, and the operator's account.
 */
export interface NodeCore {
  readonly layout: DataDirLayout
  readonly lock: DataDirLock
  readonly identity: NodeIdentity
  /** Undefined with --insecure-http. */
  readonly tls: TlsMaterial | undefined
  readonly store: Store
  readonly audit: AuditFeed
  readonly signingKey: SigningKey
  readonly revocations: RevocationList
  readonly registry: ClientRegistry
  readonly grants: Grants
  readonly operator: OperatorAccount
}

export interface CoreHooks {
  /** A token, client or grant was revoked: what it opened must be checked again. */
  onRevoked (): void
  /** A client was revoked (its tokens stop at once). */
  onClientRevoked (clientId: string): void
}

/**
 * Opens the core in order. On failure, what was opened is closed again (the store) and the data
 * dir released, so a failed start leaves nothing held.
 */
export async function openCore (c: Config, log: Logger, metrics: NodeMetrics, hooks: CoreHooks): Promise<NodeCore> {
  const layout = prepareDataDir(c.dataDir)
  const lock = DataDirLock.acquire(layout)
  let store: Store | undefined
  try {
    const identity = await loadOrCreateIdentity(layout.identityKey)
    if (identity.created) log.info({ nodeId: identity.nodeId }, 'created a new node identity')
    const tls = c.insecureHttp ? undefined : await loadTls(c, layout, identity.nodeId, log)
    store = instrumentRepositories(await openStore({
      url: c.store, namespace: c.storeNamespace, database: c.storeDatabase, username: c.storeUsername, password: c.storePassword
    }), ['audit', 'clients', 'oauthPayloads', 'revocations', 'hive', 'peers', 'operator'], metrics)
    log.debug({ schemaVersion: store.schemaVersion }, 'store open')
    const audit = new AuditFeed(store.audit)
    const signingKey = await loadOrCreateSigningKey(layout.signingKey)
    const revocations = new RevocationList(store.revocations)
    await revocations.load()
    revocations.onRevoked(hooks.onRevoked)
    const admin = operatorAdministration({ clients: store.clients, oauthPayloads: store.oauthPayloads, revocations, audit }, {
      accessTokenTtlSeconds: Math.round(c.accessTokenTtl / 1000),
      registeredClientTtlSeconds: Math.round(c.registeredClientTtl / 1000),
      onClientRevoked: hooks.onClientRevoked
    })
    const operator = new OperatorAccount(store.operator, { lockMs: c.signInLockout, maxLockMs: Math.max(c.signInLockout, 3_600_000), globalFailures: c.signInGlobalFailures })
    return { layout, lock, identity, tls, store, audit, signingKey, revocations, registry: admin.registry, grants: admin.grants, operator }
  } catch (err) {
    await store?.close().catch(() => undefined)
    lock.release()
    throw err
  }
}

/** The operator's certificate, or the node's own self-signed one (made, or renewed, when needed). */
async function loadTls (c: Config, layout: DataDirLayout, nodeId: string, log: Logger): Promise<TlsMaterial> {
  if (c.tlsCert !== undefined && c.tlsKey !== undefined) return loadProvidedCertificate(c.tlsCert, c.tlsKey)
  const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), nodeId, ...(/^[\d.:]+$/.test(c.host) ? [] : [c.host])])]
  const tls = await loadOrCreateSelfSigned(layout.tlsCert, layout.tlsKey, names)
  if (tls.created) log.info({ fingerprint: tls.fingerprint, reason: tls.renewedBecause ?? 'first start' }, 'made a self-signed TLS certificate')
  return tls
}
