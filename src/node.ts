import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Config } from './config/index.ts'
import { prepareDataDir, DataDirLock, type DataDirLayout } from './config/index.ts'
import { loadOrCreateIdentity, loadOrCreateSelfSigned, loadProvidedCertificate, type NodeIdentity, type TlsMaterial } from './identity/index.ts'
import { openStore, AuditFeed, type Store } from './store/index.ts'
import { ForwardError, type DnsSdAdvertiser } from './hive/index.ts'
import { startHivePart, peerViews, advertiseOnLan, type HivePart } from './node-hive.ts'
import { createMcpPart, MCP_PATH, type McpPart } from './node-mcp.ts'
import { NotificationStream, parseHiveToken, watchHiveToken, type McpTracer, type TokenEnd } from './mcp/index.ts'
import { startTracing, type Tracing } from './shared/tracing.ts'
import { MetricsServer, type HttpServer, type Forwarder } from './http/index.ts'
import { buildHttpPart } from './node-http.ts'
import { buildAuthPart } from './node-auth.ts'
import { nodeInfo, nodeSummary, loopbackFor, type NodeState, type NodeSummary } from './node-summary.ts'
export type { NodeSummary } from './node-summary.ts'
import {
  AccessTokenVerifier, AuthorizationServer, RevocationList, TokenWatcher, SCOPES, loadOrCreateSigningKey, OperatorAccount,
  RefusalAudit, operatorAdministration, type ClientRegistry, type Grants, type SigningKey
} from './auth/index.ts'
import type { NodeInfo } from './shared/node-info.ts'
import { LoadMeter } from './shared/load.ts'
import { VERSION } from './shared/version.ts'
import type { Logger } from './shared/logger.ts'
import { listenError } from './shared/errors.ts'
import { NodeMetrics, instrumentRepositories } from './shared/metrics.ts'
import { cliName } from './shared/cli-name.ts'

/** How often expired revocations and OAuth records are swept out. */
const PRUNE_INTERVAL_MS = 10 * 60_000

/**
 * The composition root: builds every part from the configuration, hands each what it needs,
 * starts them in order and stops them in reverse. Only the CLI uses it.
 */
export class EdgeNode {
  readonly config: Config
  readonly #logger: Logger
  readonly #load = new LoadMeter()
  #layout?: DataDirLayout
  #lock?: DataDirLock
  #identity?: NodeIdentity
  #tls?: TlsMaterial | undefined
  #store?: Store
  #http?: HttpServer
  #signingKey?: SigningKey
  #revocations?: RevocationList
  #registry?: ClientRegistry
  #grants?: Grants
  readonly #revokedClients = new Set<string>()
  #verifier?: AccessTokenVerifier
  #authAudit?: RefusalAudit
  /** Ends open streams and sessions when their token does (built with the verifier). */
  readonly #tokens = new TokenWatcher(async (token) => await this.#verifier!.verify(token))
  #authServer?: AuthorizationServer
  #operator?: OperatorAccount
  /** Keys for cookies and CSRF tokens of the browser pages: new at each start (a restart ends sign-ins in progress). */
  readonly #cookieKeys = [randomBytes(32).toString('base64url')]
  readonly #csrfKey = randomBytes(32)
  #pruneTimer?: NodeJS.Timeout
  #audit?: AuditFeed
  #mcpPart?: McpPart
  #tracing?: Tracing
  readonly #notifications = new NotificationStream()
  #hivePart?: HivePart
  readonly #metrics: NodeMetrics
  #metricsServer?: MetricsServer
  #metricsUrl?: string
  #dnsSd?: DnsSdAdvertiser
  #startedAt = Date.now()
  /** Public URL and issuer as clients see them: known only once listening (with --port 0). */
  #publicUrl: string
  #issuer: string
  #listening = false
  #stopping?: Promise<void>

  constructor (config: Config, logger: Logger) {
    this.config = config
    this.#logger = logger
    this.#publicUrl = config.publicUrl
    this.#issuer = config.oauth2Issuer
    this.#metrics = new NodeMetrics({
      mcpSessions: () => (this.#mcpPart?.mcp?.sessionCount ?? 0) + (this.#mcpPart?.hiveMcp?.sessionCount ?? 0),
      peersByStatus: () => {
        const counts: Record<string, number> = {}
        for (const p of this.#hivePart?.hive.directory.list() ?? []) counts[p.status] = (counts[p.status] ?? 0) + 1
        return counts
      }
    }, { runtime: config.metricsEnabled })
  }

  /** Starts every part. On failure, what was started is stopped again and the error rethrown. */
  async start (): Promise<NodeSummary> {
    const c = this.config
    const log = this.#logger.child({ part: 'node' })
    try {
      this.#layout = prepareDataDir(c.dataDir)
      this.#lock = DataDirLock.acquire(this.#layout)
      this.#identity = await loadOrCreateIdentity(this.#layout.identityKey)
      if (this.#identity.created) log.info({ nodeId: this.#identity.nodeId }, 'created a new node identity')

      if (!c.insecureHttp) this.#tls = await this.#loadTls(this.#identity.nodeId, log)

      this.#store = instrumentRepositories(await openStore({
        url: c.store, namespace: c.storeNamespace, database: c.storeDatabase, username: c.storeUsername, password: c.storePassword
      }), ['audit', 'clients', 'oauthPayloads', 'revocations', 'hive', 'peers', 'operator'], this.#metrics)
      log.debug({ schemaVersion: this.#store.schemaVersion }, 'store open')

      this.#audit = new AuditFeed(this.#store.audit)
      this.#signingKey = await loadOrCreateSigningKey(this.#layout.signingKey)
      this.#revocations = new RevocationList(this.#store.revocations)
      await this.#revocations.load()
      this.#revocations.onRevoked(() => { void this.#tokens.recheck() })
      const admin = operatorAdministration({ clients: this.#store.clients, oauthPayloads: this.#store.oauthPayloads, revocations: this.#revocations, audit: this.#audit }, {
        accessTokenTtlSeconds: Math.round(c.accessTokenTtl / 1000),
        registeredClientTtlSeconds: Math.round(c.registeredClientTtl / 1000),
        onClientRevoked: (id) => {
          this.#revokedClients.add(id)
          void this.#tokens.recheck()
        }
      })
      this.#registry = admin.registry
      this.#grants = admin.grants
      this.#operator = new OperatorAccount(this.#store.operator, { lockMs: c.signInLockout, maxLockMs: Math.max(c.signInLockout, 3_600_000), globalFailures: c.signInGlobalFailures })
      this.#tracing = await startTracing(c.otelEndpoint, { nodeId: this.#identity.nodeId, name: c.nodeName, version: VERSION })
      await this.#buildMcp()
      for (const id of await this.#registry.revokedIds()) this.#revokedClients.add(id)

      this.#http = await this.#buildHttp()
      const port = await this.#http.listen(c.host, c.port).catch((err: unknown) => { throw listenError(err, 'the HTTPS server', `${c.host}:${c.port}`, '--port', String(c.port + 1)) })
      if (c.port === 0) {
        // Defaults were derived from port 0 before the OS chose one; an explicit URL has no ':0'.
        this.#publicUrl = c.publicUrl.replace(/:0$/, `:${port}`)
        this.#issuer = c.oauth2Issuer.replace(/:0$/, `:${port}`)
      }
      this.#buildAuth()
      this.#listening = true
      this.#startedAt = Date.now()
      this.#pruneTimer = setInterval(() => { void this.#prune() }, PRUNE_INTERVAL_MS).unref()

      // The hive starts once the HTTPS URL is known: its advert names the node's endpoints.
      if (c.p2pEnabled) await this.#startHive(log)

      if (c.metricsEnabled) {
        this.#metricsServer = new MetricsServer(async () => await this.#metrics.render(), this.#logger.child({ part: 'metrics' }))
        const metricsPort = await this.#metricsServer.listen(c.metricsHost, c.metricsPort).catch((err: unknown) => {
          throw listenError(err, 'the metrics listener', `${c.metricsHost}:${c.metricsPort}`, '--metrics-port', `${c.metricsPort + 1} (or --no-metrics)`)
        })
        this.#metricsUrl = `http://${loopbackFor(c.metricsHost)}:${metricsPort}/metrics`
      }

      if (c.discovery) this.#dnsSd = advertiseOnLan(this.#identity, port, c.mcpEnabled, this.#logger.child({ part: 'hive' }))

      const summary = this.#summary(port)
      summary.firstClient = await this.#bootstrapOperatorClient()
      if (!await this.#operator!.isSet()) {
        log.info(`no operator password yet: the console (/console) cannot be opened, and people's apps (MCP clients that sign in with a browser, ${cliName()} login) ` +
          `cannot be approved, until you run: ${cliName()} operator set-password`)
      }
      this.#lock.update({
        localUrl: summary.localUrl, issuer: this.#issuer, resource: this.#resource(),
        ...(summary.fingerprint === undefined ? {} : { fingerprint: summary.fingerprint })
      })
      await this.#audit.append({ actor: 'node', action: 'node.started', target: this.#identity.nodeId, outcome: 'success', detail: { version: VERSION, url: summary.baseUrl } })
      if (c.insecureHttp) {
        log.warn('serving PLAIN HTTP (--insecure-http): tokens and secrets cross the network in clear unless a TLS-terminating proxy is in front')
      }
      return summary
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async #startHive (log: Logger): Promise<void> {
    const mcp = this.#mcpPart?.mcp
    this.#hivePart = await startHivePart({
      config: this.config,
      identity: this.#identity!,
      store: this.#store!,
      audit: this.#audit!,
      notifications: this.#notifications,
      catalog: this.#mcpPart!.catalog,
      load: this.#load,
      logger: this.#logger.child({ part: 'hive' }),
      mcp: mcp === undefined ? undefined : async (req, body, authInfo) => await mcp.handle(req, body, authInfo),
      info: () => this.info(),
      mcpUrl: () => this.#resource(),
      tracer: this.#tracer()
    })
    log.info({ listen: this.#hivePart.p2p.listenAddrs(), hive_id: this.#hivePart.hive.hiveId ?? null }, 'libp2p host listening')
  }

  /**
   * Ends what a token opened (sessions, streams) when it expires or is revoked. A caller that
   * came through another member holds no token of this node: what it opened lives until its own
   * token expires, or until the member it came through is removed.
   */
  #watchToken (token: string, onEnd: (why: TokenEnd) => void): () => void {
    const hiveCaller = parseHiveToken(token)
    if (hiveCaller === undefined) return this.#tokens.watch(token, onEnd)
    return watchHiveToken(hiveCaller, onEnd, (listener) => this.#hivePart?.onRemoved(listener) ?? (() => undefined))
  }

  #tracer (): McpTracer | undefined {
    const tracer = this.#tracing?.tracer
    return tracer === undefined ? undefined : { tracer }
  }

  /** Sends a request to another member through the hive (see HiveForwarding). */
  #forward (): Forwarder | undefined {
    if (!this.config.p2pEnabled) return undefined
    return async (nodeId, request, caller, signal) => {
      if (this.#hivePart === undefined) throw new ForwardError('p2p_starting')
      return await this.#hivePart.forwarding.forward(nodeId, request, caller, signal)
    }
  }

  async #loadTls (nodeId: string, log: Logger): Promise<TlsMaterial> {
    const c = this.config
    if (c.tlsCert !== undefined && c.tlsKey !== undefined) return loadProvidedCertificate(c.tlsCert, c.tlsKey)
    const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), nodeId, ...(/^[\d.:]+$/.test(c.host) ? [] : [c.host])])]
    const tls = await loadOrCreateSelfSigned(this.#layout!.tlsCert, this.#layout!.tlsKey, names)
    if (tls.created) log.info({ fingerprint: tls.fingerprint, reason: tls.renewedBecause ?? 'first start' }, 'made a self-signed TLS certificate')
    return tls
  }

  #resource (): string {
    return `${this.#publicUrl}${MCP_PATH}`
  }

  /** RFC 9728 §3.1: the path-aware metadata URL of the MCP resource, named in every challenge. */
  #resourceMetadataUrl (): string {
    return `${this.#publicUrl}/.well-known/oauth-protected-resource${MCP_PATH}`
  }

  async #buildHttp (): Promise<HttpServer> {
    return await buildHttpPart({
      config: this.config,
      logger: this.#logger,
      metrics: this.#metrics,
      nodeId: this.#identity!.nodeId,
      peerId: this.#identity!.peerId.toString(),
      tls: this.#tls,
      csrfKey: this.#csrfKey,
      registry: this.#registry!,
      operator: this.#operator!,
      audit: this.#audit!,
      mcpPart: this.#mcpPart!,
      notifications: this.#notifications,
      forward: this.#forward(),
      tracer: this.#tracer(),
      // The auth parts are built once the server listens (the URLs need the port): requests
      // cannot arrive before, so the routes reach them through the node.
      verify: async (token) => await this.#verifier!.verify(token),
      authServer: () => this.#authServer!,
      hivePart: () => this.#hivePart,
      ready: async () => await this.#ready(),
      info: () => this.info(),
      publicUrl: () => this.#publicUrl,
      issuer: () => this.#issuer,
      resource: () => this.#resource(),
      resourceMetadataUrl: () => this.#resourceMetadataUrl(),
      watchToken: (token, onEnd) => this.#watchToken(token, onEnd)
    })
  }

  async #buildMcp (): Promise<void> {
    this.#mcpPart = await createMcpPart({
      config: this.config,
      nodeId: this.#identity!.nodeId,
      audit: this.#audit!,
      metrics: this.#metrics,
      notifications: this.#notifications,
      load: this.#load,
      logger: this.#logger.child({ part: 'mcp' }),
      info: () => this.info(),
      publicUrl: () => this.#publicUrl,
      resource: () => this.#resource(),
      peers: () => peerViews(this.#hivePart?.hive),
      hivePart: () => this.#hivePart,
      provisionClient: async (input, actor) => {
        const { client, secret } = await this.#registry!.add(input, actor)
        return { clientId: client.client_id, secret }
      },
      watchToken: (token, onEnd) => this.#watchToken(token, onEnd)
    })
  }

  #buildAuth (): void {
    const auth = buildAuthPart({
      config: this.config,
      logger: this.#logger,
      nodeId: this.#identity!.nodeId,
      issuer: this.#issuer,
      resource: this.#resource(),
      store: this.#store!,
      audit: this.#audit!,
      revocations: this.#revocations!,
      grants: this.#grants!,
      signingKey: this.#signingKey!,
      cookieKeys: this.#cookieKeys,
      isClientRevoked: (id) => this.#revokedClients.has(id)
    })
    this.#verifier = auth.verifier
    this.#authServer = auth.authServer
    this.#authAudit = auth.refusals
  }

  /** On the very first start, one operator client with every scope, so the quick start needs no extra step. */
  async #bootstrapOperatorClient (): Promise<NodeSummary['firstClient']> {
    if (await this.#store!.clients.count() > 0) return undefined
    const { client, secret } = await this.#registry!.add({ name: 'operator', scopes: [...SCOPES] }, 'node')
    return { clientId: client.client_id, clientSecret: secret! }
  }

  async #prune (): Promise<void> {
    const now = new Date()
    this.#revocations?.prune(now.getTime())
    try {
      await this.#store?.revocations.purgeExpired(now)
      await this.#store?.oauthPayloads.purgeExpired(now)
      // Retention keeps the audit log from filling the store, whoever writes to it.
      await this.#store?.audit.purge({ before: new Date(now.getTime() - this.config.auditRetention), keep: this.config.auditMaxEntries })
    } catch (err) {
      this.#logger.child({ part: 'node' }).warn({ err }, 'could not sweep expired OAuth records')
    }
  }

  async #ready (): Promise<boolean> {
    return this.#listening && this.#stopping === undefined && this.#store !== undefined && await this.#store.ping()
  }

  /** Every HTTP route the node serves (method and URL pattern); empty before start. */
  httpRoutes (): Array<{ method: string, url: string }> {
    return this.#http?.routes() ?? []
  }

  /** The node's info document (its capability advertisement). */
  info (): NodeInfo {
    return nodeInfo(this.#state())
  }

  #summary (port: number): NodeSummary {
    return nodeSummary(this.#state(), port)
  }

  /** What the node's info document and summary are made from, as it is now. */
  #state (): NodeState {
    return {
      config: this.config,
      identity: this.#identity!,
      startedAt: this.#startedAt,
      load: this.#load.read(),
      publicUrl: this.#publicUrl,
      issuer: this.#issuer,
      tls: this.#tls,
      metricsUrl: this.#metricsUrl,
      catalog: this.#mcpPart?.catalog,
      p2p: this.#hivePart?.p2p
    }
  }

  /**
   * Stops in reverse order: stop taking requests and let in-flight ones finish (bounded by
   * `shutdownTimeout`), record the stop, close the store, release the data dir. Idempotent.
   */
  stop (): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop (): Promise<void> {
    const log = this.#logger.child({ part: 'node' })
    clearInterval(this.#pruneTimer)
    // Open SSE streams would hold the HTTP drain: end the MCP sessions and streams first.
    await this.#mcpPart?.close()
    this.#notifications.end()
    if (this.#http !== undefined) {
      const { forced } = await this.#http.close(this.config.shutdownTimeout)
      if (forced) log.warn({ timeoutMs: this.config.shutdownTimeout }, 'in-flight requests did not finish in time and were cut')
      this.#listening = false
    }
    await this.#tracing?.shutdown()
    await this.#metricsServer?.close().catch((err: unknown) => log.warn({ err }, 'metrics listener did not close cleanly'))
    this.#metrics.stop()
    await this.#dnsSd?.stop().catch((err: unknown) => log.warn({ err }, 'dns-sd goodbye failed'))
    await this.#hivePart?.stop()
    await this.#authAudit?.stop().catch((err: unknown) => log.warn({ err }, 'could not write the last refusal summaries'))
    if (this.#store !== undefined) {
      if (this.#identity !== undefined && this.#http !== undefined) {
        await (this.#audit ?? this.#store.audit).append({ actor: 'node', action: 'node.stopped', target: this.#identity.nodeId, outcome: 'success' })
          .catch((err: unknown) => log.error({ err }, 'could not record the stop'))
      }
      await this.#store.close()
    }
    this.#lock?.release()
  }
}
