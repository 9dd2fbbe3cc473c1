import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { randomBytes } from 'node:crypto'
import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import type { AuditLog, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import type { Logger } from '../shared/logger.ts'
import { createAdapterFactory } from './adapter.ts'
import { SCOPES, isScope } from './scopes.ts'
import { secretMatches } from './secrets.ts'
import { ACCESS_TOKEN_ALG, type SigningKey } from './signing-key.ts'
import { grantRevocationKey, type AccessTokenVerifier } from './token-verifier.ts'
import type { RevocationList } from './revocation-list.ts'

export interface AuthorizationServerComponents {
  clients: ClientRepository
  oauthPayloads: OAuthPayloadStore
  audit: AuditLog
  verifier: AccessTokenVerifier
  revocations: RevocationList
  logger: Logger
}

/** The pages the authorization server shows people (device flow, errors): HTML from the http part. */
export interface AuthorizationPages {
  deviceInput (form: string, problem: 'none' | 'wrong_code' | 'aborted' | 'error'): string
  deviceConfirm (form: string, client: { name: string, id: string }, userCode: string): string
  deviceSuccess (client: { name: string }): string
  error (out: { error: string, error_description?: string | undefined }): string
  /** The Content-Security-Policy those pages are served with. */
  csp: string
}

/** What the sign-in and consent pages need to know about a pending interaction. */
export interface InteractionView {
  uid: string
  /** `login` until the operator signs in, then `consent`. */
  prompt: 'login' | 'consent' | string
  clientId: string
  /** The scopes asked for that are not granted yet (this node's and offline_access). */
  requestedScopes: string[]
  redirectUri?: string | undefined
  /** True for the device flow (no redirect: the app polls). */
  device: boolean
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
}

/**
 * What an app that names no scope is offered at consent. MCP clients take their scope from the
 * challenge or the RFC 9728 document, which name none on purpose (see the http part), so
 * without this they would ask for nothing and could only be refused.
 */
export const DEFAULT_APP_SCOPES = ['mcp:read', 'mcp:call']

function defaultScopeForApps (req: RawRequest): void {
  const url = req.url ?? ''
  if (!url.startsWith('/oauth/authorize?')) return
  const u = new URL(url, 'https://node.invalid')
  const asked = (u.searchParams.get('scope') ?? '').split(' ').filter((s) => isScope(s))
  if (asked.length > 0) return
  u.searchParams.set('scope', [...DEFAULT_APP_SCOPES, ...(u.searchParams.get('scope') ?? '').split(' ').filter((s) => s !== '')].join(' '))
  req.url = `${u.pathname}${u.search}`
}

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

type RawRequest = IncomingMessage | Http2ServerRequest
type RawResponse = ServerResponse | Http2ServerResponse

// OpenID Connect fields that mean nothing for this OAuth-only server (RFC 8414 clients would be
// misled). `authorization_endpoint` stays: RFC 8414 §2 requires it whenever the server has one,
// and MCP SDK clients refuse metadata without it.
const OIDC_ONLY_METADATA = [
  'claims_supported', 'claims_parameter_supported', 'claim_types_supported',
  'id_token_signing_alg_values_supported', 'subject_types_supported', 'response_modes_supported',
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
  readonly #resource: string
  readonly #registeredTtl: number
  readonly #accessTtl: number
  readonly #c: AuthorizationServerComponents

  constructor (components: AuthorizationServerComponents, options: AuthorizationServerOptions) {
    this.#c = components
    this.#issuer = new URL(options.issuer)
    this.#resource = options.resource
    this.#registeredTtl = options.registeredClientTtlSeconds
    this.#accessTtl = options.accessTokenTtlSeconds
    const { resource, accessTokenTtlSeconds: ttl, pages } = options
    const refreshTtl = options.refreshTokenTtlSeconds
    const log = components.logger

    const config: Configuration = {
      adapter: createAdapterFactory(components, { registeredClientTtlSeconds: options.registeredClientTtlSeconds }),
      jwks: { keys: [options.signingKey.privateJwk as never] },
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
        const id = ctx.oidc.session.grantIdFor(clientId) ?? await this.#grantIdFor(clientId, ctx.oidc.session.accountId)
        return id === undefined ? undefined : await ctx.oidc.provider.Grant.find(id)
      },
      findAccount: async (_ctx, id) => id === OPERATOR_ACCOUNT_ID ? { accountId: id, claims: async () => ({ sub: id }) } : undefined,
      // A refresh token only when offline_access was asked for and granted; rotated on every use,
      // and a used one presented again revokes the whole grant (the library's reuse detection).
      issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
      rotateRefreshToken: () => true,
      clientAuthMethods: [...TOKEN_ENDPOINT_AUTH_METHODS],
      enabledJWA: { clientAuthSigningAlgValues: ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'PS256', 'RS256'] },
      extraClientMetadata: {
        properties: ['agent_type', 'agent_version'],
        // Rules for clients that register themselves (RFC 7591); operator-registered clients
        // come from the registry, which has its own.
        validator: (ctx, key, _value, metadata) => {
          if (key !== 'agent_type' || ctx?.oidc?.route !== 'registration') return
          const m = metadata as { grant_types?: string[], redirect_uris?: string[] }
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
        introspection: { enabled: true, allowedPolicy: async () => true },
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
            if (!(await this.#c.clients.get(client.clientId))) throw new errors.UnauthorizedClient('only clients registered by the operator may use client_credentials')
            // No scope asked for: the client's registered set.
            if (typeof params.scope !== 'string' || params.scope.trim() === '') params.scope = client.scope ?? ''
            const allowed = new Set((client.scope ?? '').split(' '))
            // Refuse rather than silently drop (the library's default): the client must learn
            // that it will not get what it asked for.
            for (const s of String(params.scope).split(' ').filter((x) => x !== '')) {
              if (!isScope(s) || !allowed.has(s)) throw new errors.InvalidScope('requested scope is not allowed', s)
            }
            return jwtToken
          }
        }
      },
      extraTokenClaims: async (ctx, token) => {
        const c = ctx.oidc.client as unknown as { agent_type?: string, agent_version?: string } | undefined
        const grantId = (token as { grantId?: string }).grantId
        return {
          node_id: options.nodeId,
          // So that revoking the grant (`edge-hive grants revoke`) stops its access tokens too.
          ...(grantId === undefined ? {} : { grant_id: grantId }),
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
      // A self-registered client in use is kept: its expiry starts again.
      if (client.startsWith('ehd_')) void this.#renewRegistration(client)
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
      body.scopes_supported = [...SCOPES, 'offline_access']
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

  /** The pending sign-in or consent behind the interaction cookie of this browser request. */
  async interaction (req: RawRequest, res: RawResponse): Promise<InteractionView> {
    this.#pin(req)
    const d = await this.provider.interactionDetails(req as IncomingMessage, res as ServerResponse)
    const params = d.params as Record<string, unknown>
    const requested = String(params.scope ?? '').split(' ').filter((s) => isScope(s) || s === 'offline_access')
    let granted = new Set<string>()
    if (d.grantId !== undefined) {
      const grant = await this.provider.Grant.find(d.grantId)
      granted = new Set([...String(grant?.getResourceScope(this.#resource) ?? '').split(' '), ...String(grant?.getOIDCScope() ?? '').split(' ')])
    }
    return {
      uid: d.uid,
      prompt: d.prompt.name,
      clientId: String(params.client_id),
      requestedScopes: [...new Set(requested)].filter((s) => !granted.has(s)),
      redirectUri: typeof params.redirect_uri === 'string' ? params.redirect_uri : undefined,
      device: d.deviceCode !== undefined
    }
  }

  /** The operator signed in: the provider goes on to consent (or straight back, if granted already). */
  async finishSignIn (req: RawRequest, res: RawResponse): Promise<string> {
    this.#pin(req)
    return await this.provider.interactionResult(req as IncomingMessage, res as ServerResponse, { login: { accountId: OPERATOR_ACCOUNT_ID } }, { mergeWithLastSubmission: false })
  }

  /** The operator approved `scopes` (a subset of what was asked): they join the client's grant. */
  async finishConsent (req: RawRequest, res: RawResponse, scopes: string[]): Promise<string> {
    this.#pin(req)
    const d = await this.provider.interactionDetails(req as IncomingMessage, res as ServerResponse)
    const clientId = String((d.params as Record<string, unknown>).client_id)
    const accountId = d.session?.accountId ?? OPERATOR_ACCOUNT_ID
    const grant = (d.grantId === undefined ? undefined : await this.provider.Grant.find(d.grantId)) ?? new this.provider.Grant({ accountId, clientId })
    const ours = scopes.filter((s) => isScope(s))
    // The provider knows our scopes both as its own and as the resource's: grant them as both.
    if (ours.length > 0) grant.addResourceScope(this.#resource, ours.join(' '))
    const own = scopes.filter((s) => isScope(s) || s === 'offline_access')
    if (own.length > 0) grant.addOIDCScope(own.join(' '))
    // What was asked for and left unticked is refused, so the provider does not ask again.
    const params = d.params as Record<string, unknown>
    const refused = String(params.scope ?? '').split(' ').filter((s) => (isScope(s) || s === 'offline_access') && !scopes.includes(s))
    if (refused.length > 0) {
      grant.rejectOIDCScope(refused.join(' '))
      const refusedOurs = refused.filter((s) => isScope(s))
      if (refusedOurs.length > 0) grant.rejectResourceScope(this.#resource, refusedOurs.join(' '))
    }
    const grantId = await grant.save()
    await this.#c.audit.append({ actor: accountId, action: 'grant.approved', target: clientId, outcome: 'success', detail: { scopes: scopes.join(' '), grant_id: grantId } })
    return await this.provider.interactionResult(req as IncomingMessage, res as ServerResponse, { consent: { grantId } }, { mergeWithLastSubmission: true })
  }

  /** The operator said no: the app gets access_denied. */
  async deny (req: RawRequest, res: RawResponse): Promise<string> {
    this.#pin(req)
    const d = await this.provider.interactionDetails(req as IncomingMessage, res as ServerResponse)
    await this.#c.audit.append({ actor: OPERATOR_ACCOUNT_ID, action: 'grant.denied', target: String((d.params as Record<string, unknown>).client_id), outcome: 'success' })
    return await this.provider.interactionResult(req as IncomingMessage, res as ServerResponse, { error: 'access_denied', error_description: 'The operator did not allow this app.' }, { mergeWithLastSubmission: false })
  }

  /** A client's registration facts for the consent page, undefined when the client is unknown. */
  async clientFacts (clientId: string): Promise<{ name: string, registeredBy: 'operator' | 'itself', createdAt?: Date | undefined, redirectUris: string[] } | undefined> {
    const own = await this.#c.clients.get(clientId)
    if (own !== undefined) return { name: own.name, registeredBy: 'operator', createdAt: own.createdAt, redirectUris: [] }
    const c = await this.provider.Client.find(clientId)
    if (c === undefined) return undefined
    const meta = c.metadata() as Record<string, unknown>
    const issued = typeof meta.client_id_issued_at === 'number' ? new Date(meta.client_id_issued_at * 1000) : undefined
    return { name: String(meta.client_name ?? clientId), registeredBy: 'itself', createdAt: issued, redirectUris: (meta.redirect_uris as string[] | undefined) ?? [] }
  }

  /** The newest live grant the operator gave this client, if any. */
  async #grantIdFor (clientId: string, accountId: string): Promise<string | undefined> {
    const rows = await this.#c.oauthPayloads.list('Grant', 1000)
    return rows.find((r) => r.payload.clientId === clientId && r.payload.accountId === accountId)?.id
  }

  async #renewRegistration (clientId: string): Promise<void> {
    try {
      const stored = await this.#c.oauthPayloads.find('Client', clientId)
      if (stored !== undefined) await this.#c.oauthPayloads.upsert('Client', clientId, stored, this.#registeredTtl)
    } catch (err) {
      this.#c.logger.warn({ err, client_id: clientId }, 'could not renew a client registration')
    }
  }

  /** Grants the operator approved, newest first. */
  async grants (): Promise<Array<{ grant_id: string, client_id: string, client_name: string, scopes: string[], created_at: string, expires_at?: string }>> {
    const rows = await this.#c.oauthPayloads.list('Grant', 1000)
    return await Promise.all(rows.map(async ({ id, payload }) => {
      const resources = (payload.resources ?? {}) as Record<string, string>
      const scopes = [...new Set([...String(resources[this.#resource] ?? '').split(' '), ...String((payload.openid as { scope?: string } | undefined)?.scope ?? '').split(' ')])].filter((s) => s !== '')
      const clientId = String(payload.clientId)
      const facts = await this.clientFacts(clientId).catch(() => undefined)
      return {
        grant_id: id,
        client_id: clientId,
        client_name: facts?.name ?? clientId,
        scopes,
        created_at: new Date(Number(payload.iat) * 1000).toISOString(),
        ...(typeof payload.exp === 'number' ? { expires_at: new Date(payload.exp * 1000).toISOString() } : {})
      }
    }))
  }

  /** Withdraws a grant: its refresh tokens and codes go, and its access tokens stop working at once. */
  async revokeGrant (grantId: string, actor: string): Promise<boolean> {
    const grant = await this.provider.Grant.find(grantId)
    if (grant === undefined) return false
    for (const model of ['RefreshToken', 'AuthorizationCode', 'DeviceCode', 'AccessToken']) {
      await this.#c.oauthPayloads.revokeByGrantId(model, grantId)
    }
    await grant.destroy()
    await this.#c.revocations.revoke(grantRevocationKey(grantId), grant.clientId ?? 'unknown', new Date(Date.now() + this.#accessTtl * 1000))
    await this.#c.audit.append({ actor, action: 'grant.revoked', target: grant.clientId ?? grantId, outcome: 'success', detail: { grant_id: grantId } })
    return true
  }

  #pin (req: RawRequest): void {
    const h = req.headers as Record<string, string | string[] | undefined>
    h['x-forwarded-proto'] = this.#issuer.protocol.slice(0, -1)
    h['x-forwarded-host'] = this.#issuer.host
    delete h['x-forwarded-for']
    delete h['x-forwarded-port']
  }

  /**
   * Hands a request to the provider. The forwarded headers are overwritten with the issuer's
   * scheme and host, so a client cannot make the server advertise endpoints at a host of its
   * choosing through the Host header; X-Forwarded-For is dropped so the source address is the
   * socket's.
   */
  async handle (req: RawRequest, res: RawResponse): Promise<void> {
    this.#pin(req)
    defaultScopeForApps(req)
    const h = req.headers as Record<string, string | string[] | undefined>
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
