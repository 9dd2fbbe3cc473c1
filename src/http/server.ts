import { randomUUID } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import Fastify, { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import FindMyWay, { type HTTPMethod } from 'find-my-way'
import type { Logger } from 'pino'
import { toHttpAnswer, HttpError } from './errors.ts'
import { ConnectionTracker } from './connections.ts'
import { addressKey, createLimits } from './rate-limits.ts'
import { enforceRequestDeadline } from './request-deadline.ts'
import { lazyValidators, type CompileReport } from './lazy-validators.ts'
import { securityHeaders } from './security-headers.ts'
import { SCOPES, SCOPE_WORDS } from '../auth/scopes.ts'

export interface HttpServerOptions {
  /** PEM certificate and key; absent means plain HTTP (`--insecure-http`). */
  tls?: { cert: string, key: string } | undefined
  bodyLimit: number
  /** How long a client has to send a whole request, headers and body (408 after). */
  requestTimeoutMs: number
  /** Connections open at once from one source address (IPv6: one /64); more are closed at once. */
  maxConnectionsPerAddress: number
  /** Origins allowed cross-origin; empty: none (no CORS headers at all). */
  corsOrigins: string[]
  /** Requests per window per token subject (per address without a token). */
  apiRateLimit: number
  rateLimitWindowMs: number
  /** Called once per answered request (for metrics). `route` is the route pattern, or `unmatched`. */
  observe?: (r: { route: string, method: string, status: number, seconds: number }) => void
  /** Title and version of the OpenAPI document. */
  api?: { title: string, version: string, description: string }
}

export interface HttpServer {
  app: FastifyInstance
  /** Every route registered (method and URL pattern), as the OpenAPI check compares them. */
  routes (): Array<{ method: string, url: string }>
  /** Compiles every route's request validator now (each is compiled on first use). */
  compileValidators (): CompileReport
  /** Starts listening; resolves with the bound port. */
  listen (host: string, port: number): Promise<number>
  /** Stops accepting, lets in-flight requests finish for up to `timeoutMs`, then cuts the rest. */
  close (timeoutMs: number): Promise<{ forced: boolean }>
}

/** The scopes as OpenAPI shows them: the words the consent page uses. */
const API_SCOPES = Object.fromEntries(SCOPES.map((s) => [s, SCOPE_WORDS[s]]))

// Timeouts and sizes: every one bounded (see docs/operating.md, "Limits").
const CONNECTION_IDLE_MS = 300_000
const KEEP_ALIVE_MS = 72_000
/** HTTP/2 streams open at once on one connection (RFC 9113 §5.1.2); node's default is unlimited. */
const MAX_CONCURRENT_STREAMS = 128

/** Strips the query string: it may hold things that do not belong in a log. */
function pathOf (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/**
 * Builds the node's HTTP server: TLS 1.3 only with HTTP/2 and HTTP/1.1 (ALPN), JSON errors for
 * everything, 404 and 405 for unknown routes and methods. Routes are added by the caller
 * before `listen`.
 */
export async function createHttpServer (logger: Logger, options: HttpServerOptions): Promise<HttpServer> {
  const validators = lazyValidators()
  const base: FastifyServerOptions = {
    loggerInstance: logger,
    // Our own onResponse hook logs requests, without query strings.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    connectionTimeout: CONNECTION_IDLE_MS,
    // Node's own check (HTTP/1 only, every 30 s); the request deadline below is the precise one.
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 256 },
    schemaController: validators.options
  }
  const app = (options.tls === undefined
    ? Fastify(base)
    : Fastify({
      ...base,
      http2: true,
      https: {
        allowHTTP1: true,
        // TLS 1.3 only: no downgrade to ciphers and handshakes that 1.2 still allows.
        minVersion: 'TLSv1.3',
        cert: options.tls.cert,
        key: options.tls.key,
        settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS }
      }
      // fastify's typings cannot express http2 + https chosen at run time.
    } as unknown as FastifyServerOptions)) as FastifyInstance

  // Response schemas document the API; answers are serialised as they are, never trimmed to a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))

  const tracker = new ConnectionTracker({
    maxPerAddress: options.maxConnectionsPerAddress,
    onRefused: (address) => { logger.debug({ address }, 'connection refused: too many open from this address') }
  })
  tracker.attach(app, options.tls !== undefined)
  if (options.tls !== undefined) explainPlainHttp(app.server as unknown as EventEmitter, logger)
  enforceRequestDeadline(app, options.requestTimeoutMs)

  // A mirror of the routes, to tell "no such path" (404) from "not with this method" (405).
  const routes = FindMyWay({ ignoreTrailingSlash: false })
  const routeList: Array<{ method: string, url: string }> = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      routeList.push({ method, url: route.url })
      try { routes.on(method as HTTPMethod, route.url, () => undefined) } catch { /* already mirrored */ }
    }
  })

  // The OpenAPI document is made from the routes' own schemas, so it cannot drift from them.
  // Each route's `config` (public, or the scope it needs) becomes its security requirement.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: options.api ?? { title: 'Edge Hive node API', version: '0.0.0' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token of this node (RFC 9068 JWT, audience: the node\'s MCP URL).' },
          oauth2: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: API_SCOPES } } }
        }
      }
    },
    transform: ({ schema, url, route }) => {
      const config = (route.config ?? {}) as { public?: boolean, scope?: string }
      const documented = { ...(schema ?? {}) } as Record<string, unknown>
      if (documented.security === undefined) {
        documented.security = config.public === true ? [] : [{ bearer: [] }, { oauth2: config.scope === undefined ? [] : [config.scope] }]
      }
      return { schema: documented, url }
    }
  })

  // Awaited one by one: their hooks must be in place before the Bearer guard's (CORS preflights
  // are answered before any token is asked for; rate limits count after the token is known).
  const security = securityHeaders({
    // The API answers JSON: nothing on it should run, load or be framed. Pages set their own.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    strictTransportSecurity: options.tls !== undefined ? { maxAge: 31_536_000, includeSubDomains: false } : false
  })
  // On the raw response, so answers written straight to it (event streams) have them too.
  app.addHook('onRequest', (_req, reply, done) => {
    for (const [name, value] of security) reply.raw.setHeader(name, value)
    done()
  })
  await app.register(cors, {
    // Off unless origins are listed; never `*`, and no credentials (tokens go in a header).
    origin: options.corsOrigins.length > 0 ? options.corsOrigins : false,
    credentials: false,
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'],
    exposedHeaders: ['WWW-Authenticate', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
    maxAge: 600
  })
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: options.apiRateLimit,
    timeWindow: options.rateLimitWindowMs,
    // Per caller, so a flood from one client does not use up another's allowance.
    keyGenerator: (req) => req.identity === undefined ? `ip:${addressKey(req.ip)}` : `sub:${req.identity.subject}`,
    enableDraftSpec: true,
    errorResponseBuilder: (_req, ctx) => Object.assign(new HttpError('rate_limited', `Too many requests; try again in ${ctx.after}.`), { statusCode: 429 })
  })

  // Refused tokens, per source address. The API limit above counts per token subject once the
  // Bearer guard knows it; a request the guard refuses (401) never gets that far, so a flood of
  // missing or forged tokens, each costing a signature check, would go uncounted. These hooks
  // run before the guard's.
  const refusedTokens = createLimits(app, [{
    name: 'unauthorized-ip', max: options.apiRateLimit, windowMs: options.rateLimitWindowMs, key: (req) => addressKey(req.ip), countIf: (status) => status === 401
  }])
  const guarded = (req: FastifyRequest): boolean => req.routeOptions.url !== undefined && req.routeOptions.config?.public !== true
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id)
    if (guarded(req)) await refusedTokens.enforce(req, reply)
  })
  app.addHook('onResponse', async (req, reply) => {
    if (guarded(req)) await refusedTokens.settle(req, reply.statusCode)
  })
  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, not the path: bounded label values, and no ids or secrets from URLs.
    const route = req.routeOptions.url ?? 'unmatched'
    // The request id is in every line already (fastify's reqId).
    req.log.debug({
      method: req.method, route, path: pathOf(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime),
      ...(req.identity === undefined ? {} : { client_id: req.identity.clientId })
    }, 'request')
    options.observe?.({ route, method: req.method, status: reply.statusCode, seconds: reply.elapsedTime / 1000 })
  })

  app.setNotFoundHandler(async (req) => {
    const path = pathOf(req.url)
    const allowed = (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).filter((m) => routes.find(m, path) !== null)
    if (allowed.length > 0) {
      const err = new HttpError('method_not_allowed', `${req.method} is not allowed here; allowed: ${allowed.join(', ')}.`)
      throw Object.assign(err, { allow: allowed.join(', ') })
    }
    throw new HttpError('not_found', `There is nothing at ${path}.`)
  })

  app.setErrorHandler(async (err, req, reply) => {
    const answer = toHttpAnswer(err)
    if (answer.internal) req.log.error({ err, path: pathOf(req.url) }, 'request failed')
    const allow = (err as { allow?: string }).allow
    if (allow !== undefined) void reply.header('allow', allow)
    return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.body)
  })

  return {
    app,
    routes: () => [...routeList],
    compileValidators: validators.compileAll,
    async listen (host, port) {
      await app.listen({ host, port })
      const address = app.server.address()
      return typeof address === 'object' && address !== null ? address.port : port
    },
    async close (timeoutMs) {
      const closed = app.close()
      tracker.drain()
      let timer: NodeJS.Timeout | undefined
      const forced = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs) })
      ])
      clearTimeout(timer)
      if (forced) {
        tracker.destroyAll()
        await closed
      }
      return { forced }
    }
  }
}

/**
 * Plain `http://` to the HTTPS port ends in an empty reply (TLS cannot answer it in HTTP): the
 * log says what happened, once a minute at most, with how many there were.
 */
function explainPlainHttp (server: EventEmitter, logger: Logger): void {
  let quietUntil = 0
  let unsaid = 0
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => {
    if (err.code !== 'ERR_SSL_HTTP_REQUEST') return
    const now = Date.now()
    if (now < quietUntil) { unsaid++; return }
    logger.warn({ address: socket.remoteAddress, more: unsaid }, 'a client sent plain HTTP to the HTTPS port and got no answer: its URL must start with https://')
    quietUntil = now + 60_000
    unsaid = 0
  })
}
