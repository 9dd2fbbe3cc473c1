import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { inject } from 'light-my-request'
import { HttpError } from '../errors.ts'
import { ACCEPTED, addressKey, createLimits, type LimitRule, type Limits } from '../rate-limits.ts'
import { object } from '../schemas.ts'
import { PROVIDER_ENDPOINTS, tokenResponses } from './oauth-docs.ts'
import { MCP_CHALLENGE_SCOPES } from '../../auth/scopes.ts'

export interface OAuthRouteComponents {
  /** Answers a request for an authorization server path (the provider writes the response). */
  handleOAuth (req: IncomingMessage, res: ServerResponse): Promise<void>
}

export interface OAuthRouteOptions {
  nodeId: string
  /** Known once the server listens (with --port 0), hence functions. */
  issuer (): string
  /** The protected resource: the node's MCP endpoint URL. */
  resource (): string
  /** Path of the protected resource (`/mcp`), for the path-aware metadata URL (RFC 9728 §3.1). */
  resourcePath: string
  nodeName: string
  tokenPath: string
  metadataPath: string
  oauthPrefix: string
  /**
   * Requests per window per source address, to the token endpoint and to the other OAuth
   * endpoints (counted apart); and accepted requests per window per client id.
   */
  tokenRateLimit: number
  rateLimitWindowMs: number
  /** Self-registrations (RFC 7591) per source address per 10 minutes. */
  registrationRateLimit: number
}

/** Token, revocation, introspection and device authorization bodies: forms of a few fields. */
const CLIENT_BODY_LIMIT = 64 * 1024
const REGISTRATION_WINDOW_MS = 10 * 60_000
const MAX_CLIENT_ID = 200
/** The endpoints where a client authenticates or names itself in the body (RFC 6749 §2.3). */
const CLIENT_ENDPOINTS = new Set(['token', 'revoke', 'introspect', 'device/auth'])
/** Where a body read here is kept on the request. */
const BODY = Symbol('edge-hive.oauth.body')

interface ReadBody { kind: 'form' | 'json' | 'not-an-object' | 'malformed' | 'other', params: Record<string, string> }

function parseBody (contentType: string, text: string): ReadBody {
  if (/^application\/x-www-form-urlencoded/i.test(contentType)) return { kind: 'form', params: Object.fromEntries(new URLSearchParams(text)) }
  if (!/^application\/json/i.test(contentType)) return { kind: 'other', params: {} }
  let json: unknown
  try { json = JSON.parse(text) } catch { return { kind: 'malformed', params: {} } }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { kind: 'not-an-object', params: {} }
  const params = Object.create(null) as Record<string, string>
  for (const [k, v] of Object.entries(json)) if (typeof v === 'string' || typeof v === 'number') params[k] = String(v)
  return { kind: 'json', params }
}

const bodyOf = (req: FastifyRequest): ReadBody | undefined => (req as FastifyRequest & { [BODY]?: ReadBody })[BODY]

/** The client id in an HTTP Basic authorization (RFC 6749 §2.3.1), if there is one. */
function basicClientId (req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  if (h === undefined || !/^Basic /i.test(h)) return undefined
  const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  try { return decodeURIComponent(decoded.slice(0, colon)).slice(0, MAX_CLIENT_ID) } catch { return undefined }
}

/**
 * The client a request names: HTTP Basic, else `client_id` in the body, else the `sub` of an
 * RFC 7523 client assertion (read, not verified: the authorization server verifies it, and the
 * per-client count only counts what it accepted).
 */
function namedClientId (req: FastifyRequest): string | undefined {
  const basic = basicClientId(req)
  if (basic !== undefined) return basic
  const params = bodyOf(req)?.params ?? {}
  if (typeof params.client_id === 'string' && params.client_id !== '') return params.client_id.slice(0, MAX_CLIENT_ID)
  const assertion = params.client_assertion
  if (typeof assertion !== 'string') return undefined
  try {
    const sub = (JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown }).sub
    return typeof sub === 'string' ? sub.slice(0, MAX_CLIENT_ID) : undefined
  } catch { return undefined }
}

function queryClientId (req: FastifyRequest): string | undefined {
  const id = (req.query as Record<string, unknown> | undefined)?.client_id
  return typeof id === 'string' && id !== '' ? id.slice(0, MAX_CLIENT_ID) : undefined
}

/** Reads a body into a buffer, refusing one larger than `limit` (413). */
function readBody (payload: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        payload.removeListener('data', onData)
        reject(new HttpError('payload_too_large', 'The request body is larger than this endpoint accepts.'))
        return
      }
      chunks.push(chunk)
    }
    payload.on('data', onData)
    payload.once('end', () => resolve(Buffer.concat(chunks, size)))
    payload.once('error', reject)
  })
}

/**
 * The authorization server's endpoints (handed to oidc-provider as they are), the original design's
 * token routes that also take a JSON body, and the RFC 9728 protected resource metadata.
 *
 * Limits, all enforced on every request (see docs/security.md): per source address on every
 * endpoint (token requests, registrations and the rest each counted apart), and per client id on
 * the endpoints that name one, counting what the authorization server accepted. The endpoints
 * where a client authenticates or names itself in the body (token, revocation, introspection,
 * device authorization) are read here, so that the client id is known, then replayed to the
 * authorization server in-process (straight to its handler, not through these routes again).
 */
export async function registerOAuthRoutes (app: FastifyInstance, components: OAuthRouteComponents, opts: OAuthRouteOptions): Promise<void> {
  const address = (req: FastifyRequest): string => addressKey(req.ip)
  const window = opts.rateLimitWindowMs
  const perAddress = (name: string, max = opts.tokenRateLimit, windowMs = window): LimitRule => ({ name, max, windowMs, key: address })
  const perClient = (name: string, key: (req: FastifyRequest) => string | undefined): LimitRule =>
    ({ name, max: opts.tokenRateLimit, windowMs: window, key, countIf: ACCEPTED })
  const limits = {
    token: createLimits(app, [perAddress('token-ip'), perClient('token-client', namedClientId)]),
    clientEndpoint: createLimits(app, [perAddress('oauth-ip'), perClient('oauth-client', namedClientId)]),
    authorize: createLimits(app, [perAddress('oauth-ip'), perClient('oauth-client', queryClientId)]),
    // Anyone may register an app, so registrations are counted apart and more tightly.
    register: createLimits(app, [perAddress('register-ip', opts.registrationRateLimit, REGISTRATION_WINDOW_MS)]),
    other: createLimits(app, [perAddress('oauth-ip')])
  }
  const limitsFor = (path: string): Limits =>
    path === 'token' ? limits.token : path === 'register' ? limits.register : path === 'authorize' ? limits.authorize : CLIENT_ENDPOINTS.has(path) ? limits.clientEndpoint : limits.other
  /** Hands the request to the authorization server, which reads it and writes the answer. */
  const toProvider = (limit?: Limits) => async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.hijack()
    await components.handleOAuth(req.raw as IncomingMessage, reply.raw as ServerResponse)
    await limit?.settle(req, reply.raw.statusCode)
  }
  /** Hands a request read here to the authorization server, and answers with its answer. */
  const replay = async (req: FastifyRequest, reply: FastifyReply, limit: Limits, url: string, contentType: string, payload: string | Buffer): Promise<FastifyReply> => {
    // Straight to the provider's handler (fastify's own injector, without its routing and hooks):
    // this request already passed them, and a second pass would only cost time.
    let failed: unknown
    const res = await inject((raw, out) => {
      // A failure of the handler itself becomes this route's error (a logged 500), not an
      // answer that never comes.
      components.handleOAuth(raw, out).catch((err: unknown) => {
        failed = err
        if (!out.writableEnded) out.end()
      })
    }, {
      method: 'POST',
      url,
      payload,
      remoteAddress: req.ip,
      headers: {
        'content-type': contentType,
        ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization })
      }
    })
    if (failed !== undefined) throw failed
    await limit.settle(req, res.statusCode)
    for (const h of ['content-type', 'cache-control', 'pragma', 'www-authenticate']) {
      const v = res.headers[h]
      if (v !== undefined) void reply.header(h, v)
    }
    return await reply.code(res.statusCode).send(res.rawPayload)
  }

  // The authorization server's router folds letter case and drops one trailing slash, so it would
  // serve `/oauth/Token/` as the token endpoint; the routes below, and their limits, match exact
  // paths only. Such a variant of an endpoint's path is refused rather than handed on.
  const endpoints = new Map(PROVIDER_ENDPOINTS.map((e) => [`${opts.oauthPrefix}${e.path}`.toUpperCase(), `${opts.oauthPrefix}${e.path}`]))
  const exactPathsOnly = async (req: FastifyRequest): Promise<void> => {
    const path = req.url.split('?', 1)[0]!
    const folded = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toUpperCase()
    const exact = endpoints.get(folded)
    if (exact !== undefined && exact !== path) throw new HttpError('not_found', `This endpoint answers at ${exact} only, as the authorization server metadata names it.`)
  }

  await app.register(async (scope) => {
    // oidc-provider reads and limits the body itself: leave the stream untouched here.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null))
    const route = (limit: Limits) => ({ config: { public: true, rateLimit: false as const }, preHandler: limit.enforce })
    scope.route({
      method: ['GET', 'POST', 'OPTIONS'], url: `${opts.oauthPrefix}*`, handler: toProvider(), schema: { hide: true },
      config: { public: true, rateLimit: false as const }, preHandler: [exactPathsOnly, limits.other.enforce]
    })
    // The same handler under each endpoint's own path, so each is documented (and measured) apart.
    for (const e of PROVIDER_ENDPOINTS.filter((x) => !CLIENT_ENDPOINTS.has(x.path))) {
      scope.route({
        method: e.method, url: `${opts.oauthPrefix}${e.path}`, handler: toProvider(limitsFor(e.path)), ...route(limitsFor(e.path)),
        // Documentation only: the body stays unread here and the provider checks it.
        validatorCompiler: () => () => true,
        schema: {
          tags: ['oauth'],
          summary: e.summary,
          ...('body' in e ? { body: e.body, consumes: 'consumes' in e ? [...e.consumes] : ['application/x-www-form-urlencoded'] } : {}),
          response: e.response
        }
      })
    }
    scope.get(opts.metadataPath, {
      ...route(limits.other),
      schema: { tags: ['oauth'], summary: 'Authorization server metadata (RFC 8414)', response: { 200: { description: 'Metadata.', ...object('RFC 8414 §2') } } }
    }, toProvider())
  })

  await app.register(async (scope) => {
    // Read here, to know the client; the provider reads the replayed copy.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (req, payload, done) => {
      readBody(payload, CLIENT_BODY_LIMIT).then((body) => {
        Object.assign(req, { [BODY]: parseBody(String(req.headers['content-type'] ?? ''), body.toString('utf8')) })
        done(null, body)
      }, done)
    })
    for (const e of PROVIDER_ENDPOINTS.filter((x) => CLIENT_ENDPOINTS.has(x.path))) {
      const url = `${opts.oauthPrefix}${e.path}`
      const limit = limitsFor(e.path)
      scope.route({
        method: 'POST', url,
        config: { public: true, rateLimit: false },
        preHandler: limit.enforce,
        bodyLimit: CLIENT_BODY_LIMIT,
        validatorCompiler: () => () => true,
        schema: { tags: ['oauth'], summary: e.summary, ...('body' in e ? { body: e.body, consumes: ['application/x-www-form-urlencoded'] } : {}), response: e.response },
        handler: async (req, reply) => {
          // The body as it came: the provider judges it (and its content type) exactly as if it had read it.
          return await replay(req, reply, limit, url, String(req.headers['content-type'] ?? 'application/x-www-form-urlencoded'), req.body as Buffer)
        }
      })
    }

    // The JSON token routes: the standard form body, or a JSON body
    // {"grant_type","client_id","client_secret","scope"}; answered by the same token endpoint.
    const jsonToken = async (req: FastifyRequest<{ Params: { node_id?: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
      if (req.params.node_id !== undefined && req.params.node_id !== opts.nodeId) {
        throw new HttpError('unknown_node')
      }
      const body = bodyOf(req)
      if (body?.kind === 'other') throw new HttpError('unsupported_media_type', 'Send a form (application/x-www-form-urlencoded) or a JSON object.')
      if (body?.kind === 'malformed') throw new HttpError('malformed_json')
      if (body === undefined || body.kind === 'not-an-object') {
        return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'The body must be a JSON object or a form.' })
      }
      const params = body.params
      return await replay(req, reply, limits.token, opts.tokenPath, 'application/x-www-form-urlencoded', new URLSearchParams(params).toString())
    }
    const route = { config: { public: true, rateLimit: false as const }, bodyLimit: CLIENT_BODY_LIMIT, preHandler: limits.token.enforce }
    const doc = (summary: string, params?: Record<string, unknown>) => ({
      tags: ['oauth'], summary, consumes: ['application/json', 'application/x-www-form-urlencoded'], response: tokenResponses, ...(params === undefined ? {} : { params })
    })
    scope.post<{ Params: { node_id?: string } }>('/mcp/auth/token', { ...route, schema: doc('The token endpoint, also taking a JSON body') }, jsonToken)
    scope.post<{ Params: { node_id?: string } }>('/mcp/node/:node_id/auth/token', {
      ...route,
      schema: doc('The token endpoint, also taking a JSON body, by node id', { type: 'object', required: ['node_id'], properties: { node_id: { type: 'string', maxLength: 64 } } })
    }, jsonToken)
  })

  // RFC 9728: where to get tokens for this node. The path-aware form (§3.1) is for the MCP
  // endpoint; the root form answers the same, since the node has one protected resource and its
  // API takes tokens for it. MCP clients that find no scope in a challenge ask for every scope
  // listed here (MCP 2025-11-25, scope selection), and are granted the part they may have.
  const metadata = () => ({
    resource: opts.resource(),
    authorization_servers: [opts.issuer()],
    // What an agent uses: asking for all of it never asks for administration (mcp:admin is
    // asked for by name, and an operator's client has it by registration).
    scopes_supported: MCP_CHALLENGE_SCOPES.filter((s) => s !== 'offline_access'),
    bearer_methods_supported: ['header'],
    resource_name: `Edge Hive node ${opts.nodeName} (${opts.nodeId})`
  })
  for (const path of ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${opts.resourcePath}`]) {
    app.get(path, {
      config: { public: true },
      schema: { tags: ['oauth'], summary: 'Protected resource metadata (RFC 9728): where to get tokens for this node', response: { 200: { description: 'Metadata.', ...object('RFC 9728 §2') } } }
    }, async (_req, reply) => reply.header('cache-control', 'max-age=300').send(metadata()))
  }
}
