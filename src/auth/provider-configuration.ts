import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import { randomBytes } from 'node:crypto'
import Provider, { errors, type Configuration, type ResourceServer } from 'oidc-provider'
import type { ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import { createAdapterFactory } from './adapter.ts'
import type { Grants } from './grants.ts'
import { SCOPES, isScope, type Scope } from './scopes.ts'
import { ACCESS_TOKEN_ALG, type SigningKey } from './signing-key.ts'
import { introspectionPolicy } from './token-endpoints.ts'

/** The pages the authorization server shows people (device flow, errors): HTML from the http part. */
export interface AuthorizationPages {
  deviceInput (form: string, problem: 'none' | 'wrong_code' | 'aborted' | 'error'): string
  deviceConfirm (form: string, client: { name: string, id: string }, userCode: string): string
  deviceSuccess (client: { name: string }): string
  error (out: { error: string, error_description?: string | undefined }): string
  /** The Content-Security-Policy those pages are served with. */
  csp: string
}

export interface AuthorizationServerOptions {
  /** The issuer: the node's public origin (no path). */
  issuer: string
  /** The one resource tokens are for: the node's MCP endpoint URL (RFC 8707). */
  resource: string
  signingKey: SigningKey
  accessTokenTtlSeconds: number
  nodeId: string
  /** Refresh tokens (and the grants behind them) live this long unless used. */
  refreshTokenTtlSeconds: number
  /** Clients that registered themselves (RFC 7591) expire when unused this long. */
  registeredClientTtlSeconds: number
  /** Cookie signing keys for the interaction and session cookies. */
  cookieKeys: string[]
  pages: AuthorizationPages
  /** Client ID Metadata Documents: accepted at all, and also from private addresses. */
  clientMetadata: { enabled: boolean, allowPrivate: boolean }
}

/** What the provider's configuration reads from the rest of the node. */
export interface ProviderConfigurationDeps {
  clients: ClientRepository
  oauthPayloads: OAuthPayloadStore
  grants: Grants
  /** Awaited when the library revokes a grant's tokens (reuse detection, RFC 7009 refresh token revocation). */
  onGrantTokensRevoked: (grantId: string) => Promise<void>
}

/**
 * What an app that names no scope is offered at consent. MCP clients take their scope from the
 * challenge or the RFC 9728 document, which name none on purpose (see the http part), so
 * without this they would ask for nothing and could only be refused.
 */
export const DEFAULT_APP_SCOPES = ['mcp:read', 'mcp:call']

/** The account that approves people's apps: the node's operator. */
export const OPERATOR_ACCOUNT_ID = 'operator'
/** Where the provider sends the browser for sign-in and consent; the http part serves it. */
export const INTERACTION_PATH = '/interaction/'
export const DEVICE_VERIFICATION_PATH = '/oauth/device'

/** Paths the HTTP layer hands to the authorization server unchanged. */
export const OAUTH_PATH_PREFIX = '/oauth/'
export const TOKEN_PATH = '/oauth/token'
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server'
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const

/** An authorization request naming none of our scopes is given the default ones. */
export function defaultScopeForApps (req: IncomingMessage | Http2ServerRequest): void {
  const url = req.url ?? ''
  if (!url.startsWith('/oauth/authorize?')) return
  const u = new URL(url, 'https://node.invalid')
  const asked = (u.searchParams.get('scope') ?? '').split(' ').filter((s) => isScope(s))
  if (asked.length > 0) return
  u.searchParams.set('scope', [...DEFAULT_APP_SCOPES, ...(u.searchParams.get('scope') ?? '').split(' ').filter((s) => s !== '')].join(' '))
  req.url = `${u.pathname}${u.search}`
}

/** A client id that is the https URL of the app's Client ID Metadata Document (operator and self-registered ids never are). */
export function isMetadataDocumentId (clientId: unknown): boolean {
  return typeof clientId === 'string' && clientId.startsWith('https://')
}

/** Client metadata only the operator sets (edge-hive clients add); an app registering itself may not. */
const OPERATOR_ONLY_METADATA = ['agent_type', 'agent_version']
/** Client metadata naming a URL the library would fetch. */
const FETCHED_METADATA = ['jwks_uri', 'sector_identifier_uri', 'request_uris']

/**
 * oidc-provider's configuration: OAuth 2.1 with our store, our hashed secrets and our scope
 * rules. Client credentials with JWT access tokens (RFC 9068) for this node's MCP endpoint only;
 * authorization code with PKCE and the device flow for people's apps, approved by the operator.
 */
export function providerConfiguration (deps: ProviderConfigurationDeps, options: AuthorizationServerOptions): Configuration {
  const { resource, accessTokenTtlSeconds: ttl, pages } = options
  const refreshTtl = options.refreshTokenTtlSeconds
  return {
    adapter: createAdapterFactory(deps, {
      registeredClientTtlSeconds: options.registeredClientTtlSeconds,
      currentRoute: () => Provider.ctx?.oidc?.route,
      onGrantTokensRevoked: deps.onGrantTokensRevoked
    }),
    jwks: { keys: [options.signingKey.privateJwk as never] },
    // The operator allows metadata documents from private addresses: the library's fetch
    // without its guard against them (the only thing its dispatcher adds). The metadata
    // documents are all it fetches: the rules above refuse every other URL a client names
    // (jwks_uri, sector_identifier_uri, request_uris), and operator clients carry their keys.
    ...(options.clientMetadata.allowPrivate
      ? {
          fetch: async (url: URL | string | Request, init?: RequestInit) => {
            const { dispatcher: _guard, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown }
            return await fetch(url, rest)
          }
        }
      : {}),
    // Without an RSA key the library's RS256 default makes every client invalid.
    clientDefaults: { id_token_signed_response_alg: ACCESS_TOKEN_ALG, grant_types: ['authorization_code'], response_types: ['code'] },
    responseTypes: ['code', 'none'],
    // offline_access asks for a refresh token (RFC 6749 §1.5); it is granted, or not, at consent.
    scopes: [...SCOPES, 'offline_access'],
    // OAuth 2.1 / RFC 9700: PKCE for every authorization code, S256 only (the library knows no other).
    pkce: { required: () => true },
    cookies: {
      keys: options.cookieKeys,
      long: { signed: true, secure: true, sameSite: 'lax' },
      short: { signed: true, secure: true, sameSite: 'lax' }
    },
    interactions: { url: async (_ctx, interaction) => `${INTERACTION_PATH}${interaction.uid}` },
    // The operator's decision is remembered per app, across browser sessions, until revoked
    // (edge-hive grants revoke): an app that asks again for what it was given is not asked about.
    loadExistingGrant: async (ctx) => {
      const clientId = ctx.oidc.client?.clientId
      if (clientId === undefined || ctx.oidc.session?.accountId === undefined) return undefined
      const id = ctx.oidc.session.grantIdFor(clientId) ?? await deps.grants.newestFor(clientId, ctx.oidc.session.accountId)
      return id === undefined ? undefined : await ctx.oidc.provider.Grant.find(id)
    },
    findAccount: async (_ctx, id) => id === OPERATOR_ACCOUNT_ID ? { accountId: id, claims: async () => ({ sub: id }) } : undefined,
    // A refresh token only when offline_access was asked for and granted; rotated on every use,
    // and a used one presented again revokes the whole grant (the library's reuse detection,
    // which reaches us through the adapter's revokeByGrantId: see onGrantTokensRevoked).
    // No pairwise subjects here: a sector_identifier_uri is never fetched (and is refused above).
    sectorIdentifierUriValidate: () => false,
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: () => true,
    clientAuthMethods: [...TOKEN_ENDPOINT_AUTH_METHODS],
    enabledJWA: { clientAuthSigningAlgValues: ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'PS256', 'RS256'] },
    extraClientMetadata: {
      properties: OPERATOR_ONLY_METADATA,
      // Rules for clients that describe themselves: those that register (RFC 7591), and those
      // whose client id is the https URL of their metadata document (built with no request
      // context: their id is what tells them apart). Operator-registered clients come from the
      // registry, which has its own rules. The validator runs once per property, when the
      // client is built: before the library fetches anything the metadata names.
      validator: (ctx, key, value, metadata) => {
        const selfDescribed = ctx?.oidc?.route === 'registration' || isMetadataDocumentId((metadata as { client_id?: unknown }).client_id)
        if (!selfDescribed) return
        if (value !== undefined) {
          throw new errors.InvalidClientMetadata(`${key} is set by the node's operator (edge-hive clients add), not by the app`)
        }
        if (key !== 'agent_type') return
        const m = metadata as { grant_types?: string[], redirect_uris?: string[] } & Record<string, unknown>
        // The node fetches no URL a stranger names: a jwks_uri is fetched when the client
        // authenticates, a sector_identifier_uri at registration (OpenID Connect Registration
        // §2), either one a request from the node into its own network on anyone's behalf.
        for (const field of FETCHED_METADATA) {
          if (m[field] !== undefined) {
            throw new errors.InvalidClientMetadata(`${field} is not accepted: this node fetches no URL a client names${field === 'jwks_uri' ? '; send the keys themselves as jwks' : ''}`)
          }
        }
        // A self-registered client gets access only through the operator's approval: never
        // through client credentials, which would skip it.
        if ((m.grant_types ?? []).includes('client_credentials')) {
          throw new errors.InvalidClientMetadata('a self-registered client cannot use client_credentials; ask the node\'s operator for a client (edge-hive clients add)')
        }
        // OAuth 2.1: https redirect URIs, or http on loopback for native apps (RFC 8252 §7.3).
        for (const uri of m.redirect_uris ?? []) {
          const u = URL.canParse(uri) ? new URL(uri) : undefined
          const loopback = u !== undefined && u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname)
          if (u === undefined || !(u.protocol === 'https:' || loopback)) {
            throw new errors.InvalidRedirectUri('redirect_uris must be https, or http on a loopback address (127.0.0.1, [::1], localhost)')
          }
        }
      }
    },
    routes: {
      authorization: '/oauth/authorize',
      token: TOKEN_PATH,
      jwks: '/oauth/jwks',
      revocation: '/oauth/revoke',
      introspection: '/oauth/introspect',
      registration: '/oauth/register',
      device_authorization: '/oauth/device/auth',
      code_verification: DEVICE_VERIFICATION_PATH
    },
    clockTolerance: 5,
    ttl: {
      ClientCredentials: () => ttl,
      AccessToken: () => ttl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 3600,
      Session: 86_400,
      Grant: refreshTtl,
      RefreshToken: refreshTtl
    },
    // Errors that cannot go back to the client are shown to the person in the browser.
    renderError: async (ctx, out) => {
      ctx.set('content-security-policy', pages.csp)
      ctx.type = 'html'
      ctx.body = pages.error({ error: String(out.error), error_description: out.error_description === undefined ? undefined : String(out.error_description) })
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 7591, open to anyone as MCP clients expect; what a client registers gives it no
      // scope: the operator grants scopes at consent. Unused registrations expire.
      registration: {
        enabled: true,
        idFactory: () => `ehd_${randomBytes(16).toString('base64url')}`,
        secretFactory: () => `ehs_${randomBytes(32).toString('base64url')}`
      },
      // A client id that is an https URL names its own metadata (draft-ietf-oauth-client-id-
      // metadata-document). The library fetches it with the rules this needs: https only, no
      // redirects, 2.5 s, 5 KiB, its own guard against special-use addresses at connect time
      // (after DNS, so a name cannot be rebound to a private address), cached as the document
      // says within these bounds, and no shared secrets. What the app may do is what the operator
      // approves at consent, as for an app that registered itself.
      clientIdMetadataDocument: {
        enabled: options.clientMetadata.enabled,
        ack: 'draft-02',
        cacheDuration: { min: 60, max: 86_400 }
      },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: async (ctx, form, _out, err) => {
          const e = err as { userCode?: unknown, name?: string } | undefined
          const problem = e === undefined ? 'none' : (e.userCode !== undefined || e.name === 'NoCodeError') ? 'wrong_code' : e.name === 'AbortedError' ? 'aborted' : 'error'
          ctx.set('content-security-policy', pages.csp)
          ctx.type = 'html'
          ctx.body = pages.deviceInput(form, problem)
        },
        userCodeConfirmSource: async (ctx, form, client, _info, userCode) => {
          ctx.set('content-security-policy', pages.csp)
          ctx.type = 'html'
          ctx.body = pages.deviceConfirm(form, { name: client.clientName ?? client.clientId, id: client.clientId }, userCode)
        },
        successSource: async (ctx) => {
          ctx.set('content-security-policy', pages.csp)
          ctx.type = 'html'
          ctx.body = pages.deviceSuccess({ name: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? 'the app' })
        }
      },
      // JWT access tokens are answered in token-endpoints.ts; this decides for refresh tokens.
      introspection: { enabled: true, allowedPolicy: introspectionPolicy(deps.clients) },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        getResourceServerInfo: async (ctx, indicator, client) => {
          if (indicator !== resource) throw new errors.InvalidTarget('this node issues tokens for its own MCP endpoint only')
          const params = ctx.oidc.params as Record<string, unknown>
          const jwtToken: ResourceServer = { scope: SCOPES.join(' '), audience: resource, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: ACCESS_TOKEN_ALG } } }
          // People's apps get what the operator approves at consent; only client credentials
          // are bound to the scopes the client was registered with, and only the operator
          // registers such clients.
          if (params.grant_type !== 'client_credentials') return jwtToken
          if (!(await deps.clients.get(client.clientId))) throw new errors.UnauthorizedClient('only clients registered by the operator may use client_credentials')
          // No scope asked for: the client's registered set. Otherwise the part of what was asked
          // that the client was registered with (RFC 6749 §3.3: the server may issue less, and
          // says what it issued in the response's `scope`). MCP clients ask for what the node's
          // challenge or metadata lists, which is often more than one client may have; refusing
          // the whole request would leave them unable to connect at all.
          const allowed = new Set((client.scope ?? '').split(' ').filter(isScope))
          const asked = typeof params.scope === 'string' ? params.scope.split(' ').filter((x) => x !== '') : []
          if (asked.length === 0) {
            params.scope = [...allowed].join(' ')
            return jwtToken
          }
          const granted = [...new Set(asked)].filter((s) => allowed.has(s as Scope))
          if (granted.length === 0) {
            throw new errors.InvalidScope(`none of the scopes asked for is granted to this client; it may have: ${[...allowed].join(' ') || 'none'}`, asked.join(' '))
          }
          params.scope = granted.join(' ')
          return jwtToken
        }
      }
    },
    extraTokenClaims: async (ctx, token) => {
      const c = ctx.oidc.client as unknown as { clientId: string, agent_type?: string, agent_version?: string } | undefined
      const grantId = (token as { grantId?: string }).grantId
      // The agent claims come from the operator's registry only, never from what an app
      // registered about itself (refused at registration, and not trusted if stored before).
      const agent = c?.agent_type !== undefined && await deps.clients.get(c.clientId) !== undefined
      return {
        node_id: options.nodeId,
        // So that revoking the grant (`edge-hive grants revoke`) stops its access tokens too.
        ...(grantId === undefined ? {} : { grant_id: grantId }),
        ...(agent ? { agent_type: c.agent_type } : {}),
        ...(agent && c.agent_version !== undefined ? { agent_version: c.agent_version } : {})
      }
    },
    formats: {
      customizers: {
        // Tokens carry `scopes` as an array beside the standard `scope` string, as the original design's did.
        jwt: async (_ctx, _token, jwt) => {
          jwt.payload.scopes = typeof jwt.payload.scope === 'string' ? jwt.payload.scope.split(' ') : []
        }
      }
    }
  }
}
