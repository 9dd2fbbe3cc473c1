import { randomBytes } from 'node:crypto'
import type { Config } from './config/index.ts'
import { openCore, type NodeCore } from './node-core.ts'
import { ForwardError, type DnsSdAdvertiser } from './hive/index.ts'
import { startHivePart, peerViews, advertiseOnLan, type HivePart } from './node-hive.ts'
import { createMcpPart, MCP_PATH, type McpPart } from './node-mcp.ts'
import { NotificationStream, parseHiveToken, watchHiveToken, type McpTracer, type TokenEnd } from './mcp/index.ts'
import { startTracing, type Tracing } from './shared/tracing.ts'
import { MetricsServer, type HttpServer, type Forwarder, type CompileReport } from './http/index.ts'
import { buildHttpPart } from './node-http.ts'
import { buildAuthPart } from './node-auth.ts'
import { nodeInfo, nodeSummary, loopbackFor, type NodeState, type NodeSummary } from './node-summary.ts'
export type { NodeSummary } from './node-summary.ts'
import { TokenWatcher, SCOPES } from './auth/index.ts'
import type { AuthPart } from './node-auth.ts'
import type { NodeInfo } from './shared/node-info.ts'
import { LoadMeter } from './shared/load.ts'
import { VERSION } from './shared/version.ts'
import type { Logger } from './shared/logger.ts'
import { listenError, StartupError } from './shared/errors.ts'
import { NodeMetrics } from './shared/metrics.ts'
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
  /** The parts the others stand on (data dir, identity, TLS, store, keys, accounts): open once started. */
  #core?: NodeCore
  #http?: HttpServer
  readonly #revokedClients = new Set<string>()
  /** The token verifier and authorization server: built once the server listens (the URLs need the port). */
  #auth?: AuthPart
  /** Ends open streams and sessions when their token does. */
  readonly #tokens = new TokenWatcher(async (token) => await this.#auth!.verifier.verify(token))
  /** Keys for cookies and CSRF tokens of the browser pages: new at each start (a restart ends sign-ins in progress). */
  readonly #cookieKeys = [randomBytes(32).toString('base64url')]
  readonly #csrfKey = randomBytes(32)
  #pruneTimer?: NodeJS.Timeout
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
  /** A start under way: a stop waits for it to end (it fails once it sees the stop), then closes what it built. */
  #starting?: Promise<NodeSummary>
  #stopping?: Promise<void>
  #closing?: Promise<void>

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
  start (): Promise<NodeSummary> {
    if (this.#stopping !== undefined) return Promise.reject(new StartupError('not_ready', 'the node was stopped; make a new one to start again'))
    this.#starting ??= this.#start()
    return this.#starting
  }

  /** A stop asked for during the start ends it here, before more is built. */
  #stillStarting (): void {
    if (this.#stopping !== undefined) throw new StartupError('not_ready', 'the node was stopped while it was starting')
  }

  async #start (): Promise<NodeSummary> {
    const c = this.config
    const log = this.#logger.child({ part: 'node' })
    try {
      const core = this.#core = await openCore(c, log, this.#metrics, {
        onRevoked: () => { void this.#tokens.recheck() },
        onClientRevoked: (id) => {
          this.#revokedClients.add(id)
          void this.#tokens.recheck()
        }
      })
      this.#stillStarting()
      this.#tracing = await startTracing(c.otelEndpoint, { nodeId: core.identity.nodeId, name: c.nodeName, version: VERSION })
      this.#mcpPart = await this.#buildMcp(core)
      for (const id of await core.registry.revokedIds()) this.#revokedClients.add(id)

      this.#http = await this.#buildHttp(core)
      const port = await this.#http.listen(c.host, c.port).catch((err: unknown) => { throw listenError(err, 'the HTTPS server', `${c.host}:${c.port}`, '--port', String(c.port + 1)) })
      if (c.port === 0) {
        // Defaults were derived from port 0 before the OS chose one; an explicit URL has no ':0'.
        this.#publicUrl = c.publicUrl.replace(/:0$/, `:${port}`)
        this.#issuer = c.oauth2Issuer.replace(/:0$/, `:${port}`)
      }
      this.#stillStarting()
      this.#auth = this.#buildAuth(core)
      this.#listening = true
      this.#startedAt = Date.now()
      this.#pruneTimer = setInterval(() => { void this.#prune() }, PRUNE_INTERVAL_MS).unref()

      // The hive starts once the HTTPS URL is known: its advert names the node's endpoints.
      if (c.p2pEnabled) await this.#startHive(core, log)

      if (c.metricsEnabled) {
        this.#metricsServer = new MetricsServer(async () => await this.#metrics.render(), this.#logger.child({ part: 'metrics' }))
        const metricsPort = await this.#metricsServer.listen(c.metricsHost, c.metricsPort).catch((err: unknown) => {
          throw listenError(err, 'the metrics listener', `${c.metricsHost}:${c.metricsPort}`, '--metrics-port', `${c.metricsPort + 1} (or --no-metrics)`)
        })
        this.#metricsUrl = `http://${loopbackFor(c.metricsHost)}:${metricsPort}/metrics`
      }

      if (c.discovery) this.#dnsSd = advertiseOnLan(core.identity, port, c.mcpEnabled, this.#logger.child({ part: 'hive' }))

      const summary = this.#summary(port)
      summary.firstClient = await this.#bootstrapOperatorClient(core)
      if (!await core.operator.isSet()) {
        log.info(`no operator password yet: the console (/console) cannot be opened, and people's apps (MCP clients that sign in with a browser, ${cliName()} login) ` +
          `cannot be approved, until you run: ${cliName()} operator set-password`)
      }
      core.lock.update({
        localUrl: summary.localUrl, issuer: this.#issuer, resource: this.#resource(),
        ...(summary.fingerprint === undefined ? {} : { fingerprint: summary.fingerprint })
      })
      await core.audit.append({ actor: 'node', action: 'node.started', target: core.identity.nodeId, outcome: 'success', detail: { version: VERSION, url: summary.baseUrl } })
      if (c.insecureHttp) {
        log.warn('serving PLAIN HTTP (--insecure-http): tokens and secrets cross the network in clear unless a TLS-terminating proxy is in front')
      }
      this.#stillStarting()
      return summary
    } catch (err) {
      await this.#close()
      throw err
    }
  }

  async #startHive (core: NodeCore, log: Logger): Promise<void> {
    const mcp = this.#mcpPart?.mcp
    this.#hivePart = await startHivePart({
      config: this.config,
      identity: core.identity,
      store: core.store,
      audit: core.audit,
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

  #resource (): string {
    return `${this.#publicUrl}${MCP_PATH}`
  }

  /** RFC 9728 §3.1: the path-aware metadata URL of the MCP resource, named in every challenge. */
  #resourceMetadataUrl (): string {
    return `${this.#publicUrl}/.well-known/oauth-protected-resource${MCP_PATH}`
  }

  async #buildHttp (core: NodeCore): Promise<HttpServer> {
    return await buildHttpPart({
      config: this.config,
      logger: this.#logger,
      metrics: this.#metrics,
      nodeId: core.identity.nodeId,
      peerId: core.identity.peerId.toString(),
      tls: core.tls,
      csrfKey: this.#csrfKey,
      registry: core.registry,
      operator: core.operator,
      audit: core.audit,
      mcpPart: this.#mcpPart!,
      notifications: this.#notifications,
      forward: this.#forward(),
      tracer: this.#tracer(),
      // The auth parts are built once the server listens (the URLs need the port): requests
      // cannot arrive before, so the routes reach them through the node.
      verify: async (token) => await this.#auth!.verifier.verify(token),
      authServer: () => this.#auth!.authServer,
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

  async #buildMcp (core: NodeCore): Promise<McpPart> {
    return await createMcpPart({
      config: this.config,
      nodeId: core.identity.nodeId,
      audit: core.audit,
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
        const { client, secret } = await core.registry.add(input, actor)
        return { clientId: client.client_id, secret }
      },
      watchToken: (token, onEnd) => this.#watchToken(token, onEnd)
    })
  }

  #buildAuth (core: NodeCore): AuthPart {
    return buildAuthPart({
      config: this.config,
      logger: this.#logger,
      nodeId: core.identity.nodeId,
      issuer: this.#issuer,
      resource: this.#resource(),
      store: core.store,
      audit: core.audit,
      revocations: core.revocations,
      grants: core.grants,
      signingKey: core.signingKey,
      cookieKeys: this.#cookieKeys,
      isClientRevoked: (id) => this.#revokedClients.has(id)
    })
  }

  /** On the very first start, one operator client with every scope, so the quick start needs no extra step. */
  async #bootstrapOperatorClient (core: NodeCore): Promise<NodeSummary['firstClient']> {
    if (await core.store.clients.count() > 0) return undefined
    const { client, secret } = await core.registry.add({ name: 'operator', scopes: [...SCOPES] }, 'node')
    return { clientId: client.client_id, clientSecret: secret! }
  }

  async #prune (): Promise<void> {
    const core = this.#core
    if (core === undefined) return
    const now = new Date()
    core.revocations.prune(now.getTime())
    try {
      await core.store.revocations.purgeExpired(now)
      await core.store.oauthPayloads.purgeExpired(now)
      // Retention keeps the audit log from filling the store, whoever writes to it.
      await core.store.audit.purge({ before: new Date(now.getTime() - this.config.auditRetention), keep: this.config.auditMaxEntries })
    } catch (err) {
      this.#logger.child({ part: 'node' }).warn({ err }, 'could not sweep expired OAuth records')
    }
  }

  async #ready (): Promise<boolean> {
    return this.#listening && this.#stopping === undefined && this.#core !== undefined && await this.#core.store.ping()
  }

  /** Every HTTP route the node serves (method and URL pattern); empty before start. */
  httpRoutes (): Array<{ method: string, url: string }> {
    return this.#http?.routes() ?? []
  }

  /** Compiles every HTTP route's request validator now (a node compiles each on first use). */
  compileHttpValidators (): CompileReport {
    return this.#http?.compileValidators() ?? { validators: 0, failures: [] }
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
      // Read only while started: the parts that ask for the node's info exist only then.
      identity: this.#core!.identity,
      startedAt: this.#startedAt,
      load: this.#load.read(),
      publicUrl: this.#publicUrl,
      issuer: this.#issuer,
      tls: this.#core!.tls,
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
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined)
      await this.#close()
    })()
    return this.#stopping
  }

  #close (): Promise<void> {
    this.#closing ??= this.#stop()
    return this.#closing
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
    await this.#auth?.refusals.stop().catch((err: unknown) => log.warn({ err }, 'could not write the last refusal summaries'))
    const core = this.#core
    if (core !== undefined) {
      try {
        if (this.#http !== undefined) {
          await core.audit.append({ actor: 'node', action: 'node.stopped', target: core.identity.nodeId, outcome: 'success' })
            .catch((err: unknown) => log.error({ err }, 'could not record the stop'))
        }
        await core.store.close()
      } finally {
        core.lock.release()
      }
    }
  }
}
