import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type {} from '@fastify/rate-limit' // its types add app.rateLimit() and config.rateLimit
import { HttpError } from '../errors.ts'

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
  /** Token requests per window, per source address and per client id. */
  tokenRateLimit: number
  rateLimitWindowMs: number
}

const SEED_TOKEN_BODY_LIMIT = 64 * 1024

/** The client id a token request names, where it can be seen without reading the body. */
function basicClientId (req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  if (h === undefined || !/^Basic /i.test(h)) return undefined
  const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  try { return decodeURIComponent(decoded.slice(0, colon)).slice(0, 200) } catch { return undefined }
}

function bodyClientId (req: FastifyRequest): string | undefined {
  const id = (req.body as Record<string, unknown> | undefined)?.client_id
  return typeof id === 'string' ? id.slice(0, 200) : undefined
}

/**
 * The authorization server's endpoints (handed to oidc-provider as they are), the seed's
 * token routes that also take a JSON body, and the RFC 9728 protected resource metadata.
 */
export async function registerOAuthRoutes (app: FastifyInstance, components: OAuthRouteComponents, opts: OAuthRouteOptions): Promise<void> {
  // Requests this module replays to the token endpoint carry this marker, so that one token
  // request is counted once by the rate limits, not twice.
  const marker = randomBytes(16).toString('hex')
  const replayed = (req: FastifyRequest): boolean => req.headers['x-edge-hive-internal'] === marker
  const window = opts.rateLimitWindowMs
  const byAddress = { max: opts.tokenRateLimit, timeWindow: window, keyGenerator: (req: FastifyRequest) => `token-ip:${req.ip}`, allowList: replayed }
  const perClient = (clientIdOf: (req: FastifyRequest) => string | undefined) => app.rateLimit({
    max: opts.tokenRateLimit,
    timeWindow: window,
    keyGenerator: (req) => `token-client:${clientIdOf(req) ?? ''}`,
    allowList: (req) => replayed(req) || clientIdOf(req) === undefined
  })

  await app.register(async (scope) => {
    // oidc-provider reads and limits the body itself: leave the stream untouched here.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null))
    const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      reply.hijack()
      await components.handleOAuth(req.raw as IncomingMessage, reply.raw as ServerResponse)
    }
    scope.route({
      method: ['GET', 'POST', 'OPTIONS'], url: `${opts.oauthPrefix}*`, handler,
      config: { public: true, rateLimit: byAddress },
      preHandler: perClient(basicClientId)
    })
    scope.get(opts.metadataPath, { config: { public: true } }, handler)
  })

  // The seed's token routes: the standard form body, or the seed's JSON body
  // {"grant_type","client_id","client_secret","scope"}; answered by the same token endpoint.
  const seedToken = async (req: FastifyRequest<{ Params: { node_id?: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    if (req.params.node_id !== undefined && req.params.node_id !== opts.nodeId) {
      throw new HttpError(404, 'unknown_node', 'No node with that id is known here.')
    }
    const body = req.body
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'The body must be a JSON object or a form.' })
    }
    const form = new URLSearchParams()
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number') form.append(k, String(v))
    }
    const res = await app.inject({
      method: 'POST',
      url: opts.tokenPath,
      payload: form.toString(),
      remoteAddress: req.ip,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-edge-hive-internal': marker,
        ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization })
      }
    })
    for (const h of ['content-type', 'cache-control', 'pragma', 'www-authenticate']) {
      const v = res.headers[h]
      if (v !== undefined) void reply.header(h, v)
    }
    return reply.code(res.statusCode).send(res.rawPayload)
  }
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: SEED_TOKEN_BODY_LIMIT }, (_req, text, done) => {
      done(null, Object.fromEntries(new URLSearchParams(text as string)))
    })
    const route = { config: { public: true, rateLimit: byAddress }, bodyLimit: SEED_TOKEN_BODY_LIMIT, preHandler: perClient((req) => basicClientId(req) ?? bodyClientId(req)) }
    scope.post<{ Params: { node_id?: string } }>('/mcp/auth/token', route, seedToken)
    scope.post<{ Params: { node_id?: string } }>('/mcp/node/:node_id/auth/token', route, seedToken)
  })

  // RFC 9728: where to get tokens for this node. The path-aware form (§3.1) is for the MCP
  // endpoint; the root form answers the same, since the node has one protected resource and its
  // API takes tokens for it. No `scopes_supported` here, on purpose: MCP clients that find no
  // scope in the challenge ask for every scope listed there (MCP 2025-11-25 scope selection),
  // which this node refuses for clients registered with fewer; with none listed they ask for
  // none and get what they were registered with. The scopes are in the RFC 8414 metadata.
  const metadata = () => ({
    resource: opts.resource(),
    authorization_servers: [opts.issuer()],
    bearer_methods_supported: ['header'],
    resource_name: `Edge Hive node ${opts.nodeName} (${opts.nodeId})`
  })
  for (const path of ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${opts.resourcePath}`]) {
    app.get(path, { config: { public: true } }, async (_req, reply) => reply.header('cache-control', 'max-age=300').send(metadata()))
  }
}
