import type { Config } from './config/index.ts'
import type { AuditFeed } from './store/index.ts'
import type { TlsMaterial } from './identity/index.ts'
import {
  createHttpServer, registerHealthRoutes, registerNodeInfoRoutes, registerBearerGuard, registerOAuthRoutes, registerAdminClientRoutes,
  registerMcpRestRoutes, registerDiscoveryRoutes, registerHiveRoutes, registerOpenApiRoute, registerInteractionRoutes, registerAdminOperatorRoutes,
  registerConsole, type HttpServer, type Forwarder, type InteractionComponents
} from './http/index.ts'
import {
  OAUTH_PATH_PREFIX, TOKEN_PATH, AUTHORIZATION_SERVER_METADATA_PATH,
  type AuthorizationServer, type ClientRegistry, type OperatorAccount, type VerifyResult
} from './auth/index.ts'
import { invokeTool, readCatalogResource, type McpTracer, type NotificationStream, type TokenEnd } from './mcp/index.ts'
import { peerViews, type HivePart } from './node-hive.ts'
import { registerMcpEndpoints, MCP_PATH, type McpPart } from './node-mcp.ts'
import type { NodeInfo } from './shared/node-info.ts'
import type { NodeMetrics } from './shared/metrics.ts'
import type { Logger } from './shared/logger.ts'
import { VERSION } from './shared/version.ts'
import { cliName } from './shared/cli-name.ts'
import { consoleComponents } from './node-console.ts'

/**
 * What the node's HTTP routes need from the rest of the node. The parts built once the server
 * listens (the token verifier and the authorization server need the URLs, which need the port)
 * and the hive (started after) are reached through getters: no request arrives before them.
 */
export interface HttpPartDeps {
  config: Config
  logger: Logger
  metrics: NodeMetrics
  nodeId: string
  peerId: string
  tls: TlsMaterial | undefined
  csrfKey: Buffer
  registry: ClientRegistry
  operator: OperatorAccount
  audit: AuditFeed
  mcpPart: McpPart
  notifications: NotificationStream
  forward: Forwarder | undefined
  tracer: McpTracer | undefined
  verify (token: string): Promise<VerifyResult>
  authServer (): AuthorizationServer
  hivePart (): HivePart | undefined
  ready (): Promise<boolean>
  info (): NodeInfo
  publicUrl (): string
  issuer (): string
  resource (): string
  resourceMetadataUrl (): string
  watchToken (token: string, onEnd: (why: TokenEnd) => void): () => void
}

/** The node's HTTPS server with every route: health, info, OAuth, people's sign-in, admin, hive, REST and MCP. */
export async function buildHttpPart (d: HttpPartDeps): Promise<HttpServer> {
  const c = d.config
  const http = await createHttpServer(d.logger.child({ part: 'http' }), {
    tls: d.tls,
    bodyLimit: c.bodyLimit,
    requestTimeoutMs: c.requestTimeout,
    maxConnectionsPerAddress: c.maxConnectionsPerAddress,
    corsOrigins: c.corsOrigins,
    apiRateLimit: c.apiRateLimit,
    rateLimitWindowMs: c.rateLimitWindow,
    observe: (r) => { d.metrics.httpRequest(r) },
    api: {
      title: `Edge Hive node API (${c.nodeName})`,
      version: VERSION,
      description: 'The REST face of an Edge Hive node: its info document, OAuth token endpoint, tools and resources, notification stream, hive and discovery. MCP itself is at /mcp (Streamable HTTP; see the MCP specification).'
    }
  })
  registerBearerGuard(http.app, { verify: d.verify }, { resourceMetadataUrl: d.resourceMetadataUrl })
  registerHealthRoutes(http.app, { ready: d.ready })
  registerNodeInfoRoutes(http.app, { nodeId: d.nodeId, nodeInfo: d.info, forward: d.forward, verify: d.verify }, { resourceMetadataUrl: d.resourceMetadataUrl })
  await registerOAuthRoutes(http.app, { handleOAuth: async (req, res) => await d.authServer().handle(req, res) }, {
    nodeId: d.nodeId,
    nodeName: c.nodeName,
    issuer: d.issuer,
    resource: d.resource,
    resourcePath: MCP_PATH,
    tokenPath: TOKEN_PATH,
    metadataPath: AUTHORIZATION_SERVER_METADATA_PATH,
    oauthPrefix: OAUTH_PATH_PREFIX,
    tokenRateLimit: c.tokenRateLimit,
    rateLimitWindowMs: c.rateLimitWindow,
    registrationRateLimit: c.registrationRateLimit
  })
  registerAdminClientRoutes(http.app, { registry: d.registry })
  const signIn: InteractionComponents['signIn'] = async (password, from) => {
    const outcome = await d.operator.signIn(password, from)
    // Refusals while locked are not audited (nothing was checked, and a flood would fill the
    // log); each checked password is, with the lock it started.
    if (outcome.ok || outcome.reason !== 'locked') {
      const lock = !outcome.ok && outcome.reason === 'wrong' && outcome.lock !== undefined ? { lock: outcome.lock.scope, locked_for_s: Math.ceil(outcome.lock.retryAfterMs / 1000) } : {}
      await d.audit.append({
        actor: 'operator',
        action: 'operator.sign_in',
        source: from.address,
        outcome: outcome.ok ? 'success' : 'failure',
        ...(outcome.ok ? {} : { detail: { reason: outcome.reason, ...lock } })
      })
    }
    return outcome
  }
  // The console signs in with the same password, lockouts and audit as the approval pages.
  const operatorConsole = c.consoleEnabled
    ? await registerConsole(http.app, consoleComponents({ ...d, fingerprint: d.tls?.fingerprint, signIn, tokenUrl: () => `${d.issuer()}${TOKEN_PATH}` }), {
      nodeName: c.nodeName,
      nodeId: d.nodeId,
      csrfKey: d.csrfKey,
      idleMs: c.consoleIdle,
      signInRateLimit: c.signInRateLimit,
      pageRateLimit: c.tokenRateLimit,
      sessionRateLimit: c.apiRateLimit,
      rateLimitWindowMs: c.rateLimitWindow,
      trustedBrowserMs: d.operator.trustedBrowserMs,
      cli: cliName()
    })
    : undefined
  registerDiscoveryRoutes(http.app, {
    peers: () => peerViews(d.hivePart()?.hive),
    connect: async (peerId, addrs) => await d.hivePart()!.p2p.connect(peerId, addrs),
    enabled: () => d.hivePart() !== undefined
  })
  registerHiveRoutes(http.app, { hive: () => d.hivePart()?.hive, peerId: d.peerId })
  await registerInteractionRoutes(http.app, {
    interaction: async (req, res) => await d.authServer().interaction(req, res),
    finishSignIn: async (req, res) => await d.authServer().finishSignIn(req, res),
    finishConsent: async (req, res, scopes) => await d.authServer().finishConsent(req, res, scopes),
    deny: async (req, res) => await d.authServer().deny(req, res),
    clientFacts: async (id) => await d.authServer().clientFacts(id),
    signIn,
    operatorSet: async () => await d.operator.isSet()
  }, {
    nodeName: c.nodeName,
    csrfKey: d.csrfKey,
    signInRateLimit: c.signInRateLimit,
    pageRateLimit: c.tokenRateLimit,
    rateLimitWindowMs: c.rateLimitWindow,
    trustedBrowserMs: d.operator.trustedBrowserMs
  })
  registerAdminOperatorRoutes(http.app, {
    setPassword: async (password, actor) => {
      await d.operator.setPassword(password)
      // A new password ends every console sign-in made with the old one.
      operatorConsole?.signOutAll()
      await d.audit.append({ actor, action: 'operator.password_set', outcome: 'success' })
    },
    grants: async () => await d.authServer().grants(),
    revokeGrant: async (id, actor) => await d.authServer().revokeGrant(id, actor)
  })
  registerOpenApiRoute(http.app, { publicUrl: d.publicUrl })
  registerMcpRestRoutes(http.app, {
    invoke: async (name, args, caller) => await invokeTool(d.mcpPart.catalog, name, args, caller),
    read: async (uri) => await readCatalogResource(d.mcpPart.catalog, uri),
    stream: d.notifications,
    watchToken: d.watchToken,
    forward: d.forward
  }, {
    nodeId: d.nodeId,
    maxStreams: c.maxStreams,
    maxStreamsPerClient: c.maxStreamsPerClient,
    resourceMetadataUrl: d.resourceMetadataUrl
  })
  await registerMcpEndpoints(http.app, d.mcpPart, {
    config: c,
    nodeId: d.nodeId,
    publicUrl: d.publicUrl,
    resource: d.resource,
    resourceMetadataUrl: d.resourceMetadataUrl,
    watchToken: d.watchToken,
    forward: d.forward,
    tracer: d.tracer
  })
  return http
}
