import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type {} from '@fastify/rate-limit' // its types add app.rateLimit() and config.rateLimit
import { HttpError } from '../errors.ts'
import { object } from '../schemas.ts'

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
/** Self-registrations (RFC 7591) per source address per window: enough for people, not for a flood. */
const REGISTRATIONS_PER_WINDOW = 30
const REGISTRATION_WINDOW_MS = 10 * 60_000

const oauthError = { type: 'object', description: 'An OAuth error (RFC 6749 §5.2).', properties: { error: { type: 'string' }, error_description: { type: 'string' } } }
const tokenAnswer = object('RFC 6749 §5.1: access_token (an RFC 9068 JWT whose aud is the node\'s MCP URL), token_type Bearer, expires_in, scope.')
const tokenRequest = {
  type: 'object',
  required: ['grant_type'],
  properties: {
    grant_type: { type: 'string', enum: ['client_credentials'] },
    scope: { type: 'string', description: 'Space-separated scopes, at most the client\'s; all of them when absent.' },
    resource: { type: 'string', description: 'RFC 8707: the node\'s MCP URL (the only resource).' },
    client_id: { type: 'string' },
    client_secret: { type: 'string', description: 'With client_secret_post; prefer HTTP Basic (client_secret_basic).' },
    client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'] },
    client_assertion: { type: 'string', description: 'RFC 7523: a JWT signed with the client\'s registered key (private_key_jwt).' }
  }
}
const tokenResponses = { 200: { description: 'A token.', ...tokenAnswer }, 400: oauthError, 401: oauthError, 429: oauthError }
/** The authorization server's own endpoints, as documentation: oidc-provider reads and checks the requests. */
const PROVIDER_ENDPOINTS = [
  { method: 'POST', path: 'token', summary: 'Token endpoint (client credentials; RFC 6749 §4.4, client auth: Basic, post or RFC 7523 private_key_jwt)', body: tokenRequest, response: tokenResponses },
  {
    method: 'POST', path: 'revoke', summary: 'Revoke a token (RFC 7009)',
    body: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, token_type_hint: { type: 'string' } } },
    response: { 200: { description: 'Revoked, or unknown (RFC 7009 §2.2).' }, 401: oauthError }
  },
  {
    method: 'POST', path: 'introspect', summary: 'Introspect a token (RFC 7662)',
    body: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, token_type_hint: { type: 'string' } } },
    response: { 200: { description: '`{ active, ... }`', ...object('RFC 7662 §2.2') }, 401: oauthError }
  },
  {
    method: 'POST', path: 'register', consumes: ['application/json'], summary: 'Dynamic client registration (RFC 7591): apps register themselves; the operator grants scopes at consent',
    body: object('RFC 7591 §2 client metadata: client_name, redirect_uris (https, or http on loopback), grant_types (authorization_code, refresh_token, device_code; not client_credentials), token_endpoint_auth_method (none for public apps)'),
    response: { 201: { description: 'Registered.', ...object('RFC 7591 §3.2.1: client_id, and client_secret for confidential clients') }, 400: oauthError }
  },
  {
    method: 'POST', path: 'device/auth', summary: 'Device authorization (RFC 8628): a device or CLI asks for a user code',
    body: { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string' }, scope: { type: 'string' }, resource: { type: 'string' } } },
    response: { 200: { description: 'device_code, user_code, verification_uri, expires_in, interval', ...object('RFC 8628 §3.2') }, 400: oauthError, 401: oauthError }
  },
  { method: 'GET', path: 'jwks', summary: 'The public key that signs access tokens (JWK Set)', response: { 200: { description: 'JWK Set', ...object('RFC 7517 JWK Set') } } },
  { method: 'GET', path: 'authorize', summary: 'Authorization endpoint (answers with OAuth errors until interactive sign-in exists)', response: { 400: oauthError } }
] as const

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

  const registrationLimit = { max: REGISTRATIONS_PER_WINDOW, timeWindow: REGISTRATION_WINDOW_MS, keyGenerator: (req: FastifyRequest) => `register-ip:${req.ip}` }
  // One per-client limiter for every provider endpoint, as one allowance.
  const providerLimit = perClient(basicClientId)
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
      preHandler: providerLimit,
      schema: { hide: true }
    })
    // The same handler under each endpoint's own path, so each is documented (and measured) apart.
    for (const e of PROVIDER_ENDPOINTS) {
      scope.route({
        method: e.method, url: `${opts.oauthPrefix}${e.path}`, handler,
        // Anyone may register an app, so registrations are counted apart and more tightly.
        config: { public: true, rateLimit: e.path === 'register' ? registrationLimit : byAddress },
        preHandler: providerLimit,
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
      config: { public: true },
      schema: { tags: ['oauth'], summary: 'Authorization server metadata (RFC 8414)', response: { 200: { description: 'Metadata.', ...object('RFC 8414 §2') } } }
    }, handler)
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
    const doc = (summary: string, params?: Record<string, unknown>) => ({
      tags: ['oauth'], summary, consumes: ['application/json', 'application/x-www-form-urlencoded'], response: tokenResponses, ...(params === undefined ? {} : { params })
    })
    scope.post<{ Params: { node_id?: string } }>('/mcp/auth/token', { ...route, schema: doc('The seed\'s token route: the token endpoint, also with a JSON body') }, seedToken)
    scope.post<{ Params: { node_id?: string } }>('/mcp/node/:node_id/auth/token', {
      ...route,
      schema: doc('The seed\'s token route, by node id', { type: 'object', required: ['node_id'], properties: { node_id: { type: 'string', maxLength: 64 } } })
    }, seedToken)
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
    app.get(path, {
      config: { public: true },
      schema: { tags: ['oauth'], summary: 'Protected resource metadata (RFC 9728): where to get tokens for this node', response: { 200: { description: 'Metadata.', ...object('RFC 9728 §2') } } }
    }, async (_req, reply) => reply.header('cache-control', 'max-age=300').send(metadata()))
  }
}
