import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { AuditLog, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import type { Logger } from '../shared/logger.ts'
import { createAdapterFactory } from './adapter.ts'
import { SCOPES, isScope } from './scopes.ts'
import { secretMatches } from './secrets.ts'
import { ACCESS_TOKEN_ALG, type SigningKey } from './signing-key.ts'
import type { AccessTokenVerifier } from './token-verifier.ts'
import type { RevocationList } from './revocation-list.ts'

export interface AuthorizationServerComponents {
  clients: ClientRepository
  oauthPayloads: OAuthPayloadStore
  audit: AuditLog
  verifier: AccessTokenVerifier
  revocations: RevocationList
  logger: Logger
}

export interface AuthorizationServerOptions {
  /** The issuer: the node's public origin (no path). */
  issuer: string
  /** The one resource tokens are for: the node's MCP endpoint URL (RFC 8707). */
  resource: string
  signingKey: SigningKey
  accessTokenTtlSeconds: number
  nodeId: string
}

/** Paths the HTTP layer hands to the authorization server unchanged. */
export const OAUTH_PATH_PREFIX = '/oauth/'
export const TOKEN_PATH = '/oauth/token'
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server'
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const

type RawRequest = IncomingMessage | Http2ServerRequest
type RawResponse = ServerResponse | Http2ServerResponse

// OpenID Connect fields that mean nothing for this OAuth-only server (RFC 8414 clients would be
// misled). `authorization_endpoint` stays: RFC 8414 §2 requires it whenever the server has one,
// and MCP SDK clients refuse metadata without it.
const OIDC_ONLY_METADATA = [
  'claims_supported', 'claims_parameter_supported', 'claim_types_supported',
  'id_token_signing_alg_values_supported', 'subject_types_supported', 'response_modes_supported',
  'code_challenge_methods_supported', 'authorization_response_iss_parameter_supported',
  'request_uri_parameter_supported', 'request_parameter_supported', 'dpop_signing_alg_values_supported',
  'end_session_endpoint', 'userinfo_endpoint', 'require_request_uri_registration'
]

function sourceOf (ctx: KoaContextWithOIDC): string | undefined {
  return ctx.req.socket?.remoteAddress ?? undefined
}

/**
 * The node's OAuth 2.1 authorization server: oidc-provider (OpenID certified) for the protocol,
 * with our store, our hashed secrets and our scope rules. Client credentials with JWT access
 * tokens (RFC 9068) for this node's MCP endpoint only; revocation (RFC 7009) and
 * introspection (RFC 7662) of those JWTs through the node's own revocation list.
 */
export class AuthorizationServer {
  readonly provider: Provider
  readonly #callback: ReturnType<Provider['callback']>
  readonly #issuer: URL
  readonly #c: AuthorizationServerComponents

  constructor (components: AuthorizationServerComponents, options: AuthorizationServerOptions) {
    this.#c = components
    this.#issuer = new URL(options.issuer)
    const { resource, accessTokenTtlSeconds: ttl } = options
    const log = components.logger

    const config: Configuration = {
      adapter: createAdapterFactory(components),
      jwks: { keys: [options.signingKey.privateJwk as never] },
      // Without an RSA key the library's RS256 default makes every client invalid.
      clientDefaults: { id_token_signed_response_alg: ACCESS_TOKEN_ALG, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
      responseTypes: ['none'],
      scopes: [...SCOPES],
      clientAuthMethods: [...TOKEN_ENDPOINT_AUTH_METHODS],
      enabledJWA: { clientAuthSigningAlgValues: ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'PS256', 'RS256'] },
      extraClientMetadata: { properties: ['agent_type', 'agent_version'] },
      routes: { authorization: '/oauth/authorize', token: TOKEN_PATH, jwks: '/oauth/jwks', revocation: '/oauth/revoke', introspection: '/oauth/introspect' },
      clockTolerance: 5,
      ttl: { ClientCredentials: () => ttl },
      renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out },
      features: {
        devInteractions: { enabled: false },
        userinfo: { enabled: false },
        rpInitiatedLogout: { enabled: false },
        pushedAuthorizationRequests: { enabled: false },
        dPoP: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: async () => true },
        revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => resource,
          getResourceServerInfo: async (ctx, indicator, client) => {
            if (indicator !== resource) throw new errors.InvalidTarget('this node issues tokens for its own MCP endpoint only')
            const params = ctx.oidc.params as Record<string, unknown>
            // No scope asked for: the client's registered set.
            if (typeof params.scope !== 'string' || params.scope.trim() === '') params.scope = client.scope ?? ''
            const allowed = new Set((client.scope ?? '').split(' '))
            // Refuse rather than silently drop (the library's default): the client must learn
            // that it will not get what it asked for.
            for (const s of String(params.scope).split(' ').filter((x) => x !== '')) {
              if (!isScope(s) || !allowed.has(s)) throw new errors.InvalidScope('requested scope is not allowed', s)
            }
            return { scope: SCOPES.join(' '), audience: resource, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: ACCESS_TOKEN_ALG } } }
          }
        }
      },
      extraTokenClaims: async (ctx) => {
        const c = ctx.oidc.client as unknown as { agent_type?: string, agent_version?: string } | undefined
        return {
          node_id: options.nodeId,
          ...(c?.agent_type === undefined ? {} : { agent_type: c.agent_type }),
          ...(c?.agent_version === undefined ? {} : { agent_version: c.agent_version })
        }
      },
      formats: {
        customizers: {
          // The seed's tokens carry `scopes` as an array beside the standard `scope` string.
          jwt: async (_ctx, _token, jwt) => {
            jwt.payload.scopes = typeof jwt.payload.scope === 'string' ? jwt.payload.scope.split(' ') : []
          }
        }
      }
    }

    this.provider = new Provider(options.issuer, config)
    // Every URL the provider builds comes from the forwarded headers that `handle` pins.
    this.provider.proxy = true
    // Secrets are stored hashed: compare the hash of what the client sent (RFC 6819 §5.1.4.1.3).
    this.provider.Client.prototype.compareClientSecret = async function (this: { clientSecret?: string }, actual: string) {
      return secretMatches(actual, this.clientSecret)
    }
    this.provider.use(async (ctx, next) => {
      await next()
      await this.#afterRequest(ctx as KoaContextWithOIDC)
    })
    this.#audit()
    this.provider.on('server_error', (_ctx, err) => log.error({ err }, 'authorization server error'))
    this.#callback = this.provider.callback()
  }

  #audit (): void {
    const { audit, logger } = this.#c
    const record = (entry: Parameters<AuditLog['append']>[0]): void => {
      audit.append(entry).catch((err: unknown) => logger.error({ err }, 'could not write audit entry'))
    }
    this.provider.on('grant.success', (ctx) => {
      const client = ctx.oidc.client?.clientId ?? 'unknown'
      record({ actor: client, action: 'token.issued', target: client, source: sourceOf(ctx), outcome: 'success', detail: { grant_type: String(ctx.oidc.params?.grant_type), scope: String(ctx.oidc.params?.scope ?? '') } })
      logger.info({ client_id: client }, 'token issued')
    })
    this.provider.on('grant.error', (ctx, err) => {
      const e = err as Error & { error?: string, error_detail?: string }
      const client = ctx.oidc?.client?.clientId ?? (typeof ctx.oidc?.params?.client_id === 'string' ? ctx.oidc.params.client_id : 'unknown')
      record({ actor: client.slice(0, 200), action: 'token.refused', source: sourceOf(ctx), outcome: 'failure', detail: { error: e.error ?? e.message, ...(e.error_detail === undefined ? {} : { reason: e.error_detail }) } })
      logger.info({ client_id: client.slice(0, 200), error: e.error ?? e.message }, 'token refused')
    })
  }

  /** Post-processing the library leaves to us: JWT revocation and introspection, and trimmed metadata. */
  async #afterRequest (ctx: KoaContextWithOIDC): Promise<void> {
    const route = ctx.oidc?.route
    if (route === 'discovery' && ctx.status === 200) {
      const body = ctx.body as Record<string, unknown>
      for (const k of OIDC_ONLY_METADATA) Reflect.deleteProperty(body, k)
      body.scopes_supported = [...SCOPES]
      return
    }
    // The library does not store JWT access tokens, so it answers `unsupported_token_type`
    // for them, after authenticating the client. We know them by their jti.
    if ((route !== 'revocation' && route !== 'introspection') || (ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return
    const client = ctx.oidc.client
    if (client === undefined) return
    const token = ctx.oidc.params?.token
    const payload = typeof token === 'string' ? await this.#c.verifier.verifySignature(token) : undefined
    ctx.status = 200
    if (route === 'revocation') {
      // RFC 7009 §2.2: 200 also for a token that is invalid, unknown or not the client's.
      if (payload !== undefined && payload.client_id === client.clientId) {
        await this.#c.revocations.revoke(String(payload.jti), client.clientId, new Date(Number(payload.exp) * 1000))
        await this.#c.audit.append({ actor: client.clientId, action: 'token.revoked', target: String(payload.jti), source: sourceOf(ctx), outcome: 'success' })
      }
      ctx.body = ''
      return
    }
    const mayIntrospect = payload !== undefined && (payload.client_id === client.clientId || (client.scope ?? '').split(' ').includes('mcp:admin'))
    const active = mayIntrospect && !this.#c.revocations.isRevoked(String(payload.jti))
    ctx.type = 'json'
    ctx.body = active ? { active: true, ...payload, token_type: 'Bearer' } : { active: false }
  }

  /**
   * Hands a request to the provider. The forwarded headers are overwritten with the issuer's
   * scheme and host, so a client cannot make the server advertise endpoints at a host of its
   * choosing through the Host header; X-Forwarded-For is dropped so the source address is the
   * socket's.
   */
  async handle (req: RawRequest, res: RawResponse): Promise<void> {
    const h = req.headers as Record<string, string | string[] | undefined>
    h['x-forwarded-proto'] = this.#issuer.protocol.slice(0, -1)
    h['x-forwarded-host'] = this.#issuer.host
    delete h['x-forwarded-for']
    delete h['x-forwarded-port']
    // On HTTP/2 a body without content-length is not seen as a body by the library (type-is).
    if (req.httpVersionMajor >= 2 && h['content-type'] !== undefined && h['content-length'] === undefined && h['transfer-encoding'] === undefined) {
      h['transfer-encoding'] = 'chunked'
    }
    await new Promise<void>((resolve) => {
      res.once('finish', resolve)
      res.once('close', resolve)
      void this.#callback(req as IncomingMessage, res as ServerResponse)
    })
  }
}
