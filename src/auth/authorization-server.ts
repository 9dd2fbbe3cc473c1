import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import Provider, { type KoaContextWithOIDC } from 'oidc-provider'
import type { AuditLog, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import type { Logger } from '../shared/logger.ts'
import type { GrantEnd, GrantView, Grants } from './grants.ts'
import {
  OPERATOR_ACCOUNT_ID, defaultScopeForApps, isMetadataDocumentId, providerConfiguration,
  type AuthorizationServerOptions
} from './provider-configuration.ts'
import { SCOPES, isScope } from './scopes.ts'
import { secretMatches } from './secrets.ts'
import { answerForAccessToken } from './token-endpoints.ts'
import type { AccessTokenVerifier } from './token-verifier.ts'
import type { RevocationList } from './revocation-list.ts'

export {
  DEFAULT_APP_SCOPES, OPERATOR_ACCOUNT_ID, INTERACTION_PATH, DEVICE_VERIFICATION_PATH, OAUTH_PATH_PREFIX, TOKEN_PATH,
  AUTHORIZATION_SERVER_METADATA_PATH, TOKEN_ENDPOINT_AUTH_METHODS, type AuthorizationPages, type AuthorizationServerOptions
} from './provider-configuration.ts'

export interface AuthorizationServerComponents {
  clients: ClientRepository
  oauthPayloads: OAuthPayloadStore
  audit: AuditLog
  verifier: AccessTokenVerifier
  revocations: RevocationList
  /** The operator's approvals; every grant end goes through it. */
  grants: Grants
  logger: Logger
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

/** Why the library revoked a grant, from the request it did it in. */
function whyTheLibraryEnded (ctx: KoaContextWithOIDC): GrantEnd {
  if (ctx.oidc?.route === 'revocation') return 'refresh_token_revoked'
  const grantType = ctx.oidc?.params?.grant_type
  if (grantType === 'refresh_token') return 'refresh_token_reuse'
  if (grantType === 'authorization_code') return 'code_reuse'
  return 'provider'
}

/**
 * The node's OAuth 2.1 authorization server: oidc-provider (OpenID certified) for the protocol,
 * configured in provider-configuration.ts; the JWT access tokens at the revocation (RFC 7009)
 * and introspection (RFC 7662) endpoints in token-endpoints.ts; the operator's approvals in
 * grants.ts. This class wires them, serves requests and drives sign-in and consent.
 */
export class AuthorizationServer {
  readonly provider: Provider
  readonly #callback: ReturnType<Provider['callback']>
  readonly #issuer: URL
  readonly #resource: string
  readonly #registeredTtl: number
  readonly #c: AuthorizationServerComponents

  constructor (components: AuthorizationServerComponents, options: AuthorizationServerOptions) {
    this.#c = components
    this.#issuer = new URL(options.issuer)
    this.#resource = options.resource
    this.#registeredTtl = options.registeredClientTtlSeconds
    const log = components.logger
    const config = providerConfiguration({
      clients: components.clients,
      oauthPayloads: components.oauthPayloads,
      grants: components.grants,
      // The library revokes a grant's tokens (reuse of a refresh token or code, a refresh token
      // revoked at /oauth/revoke) and awaits this before it answers: the access tokens, which it
      // does not store, stop at once.
      onGrantTokensRevoked: async (grantId) => {
        await components.grants.stopAccessTokens(grantId, Provider.ctx?.oidc?.client?.clientId)
      }
    }, options)

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
      record({
        actor: client, action: 'token.issued', target: client, source: sourceOf(ctx), outcome: 'success',
        detail: { grant_type: String(ctx.oidc.params?.grant_type), scope: String(ctx.oidc.params?.scope ?? '') }
      })
      logger.info({ client_id: client }, 'token issued')
    })
    this.provider.on('grant.error', (ctx, err) => {
      const e = err as Error & { error?: string, error_detail?: string }
      const client = ctx.oidc?.client?.clientId ?? (typeof ctx.oidc?.params?.client_id === 'string' ? ctx.oidc.params.client_id : 'unknown')
      record({
        actor: client.slice(0, 200), action: 'token.refused', source: sourceOf(ctx), outcome: 'failure',
        detail: { error: e.error ?? e.message, ...(e.error_detail === undefined ? {} : { reason: e.error_detail }) }
      })
      logger.info({ client_id: client.slice(0, 200), error: e.error ?? e.message }, 'token refused')
    })
    // The library ended a grant itself; its access tokens were stopped already (onGrantTokensRevoked).
    this.provider.on('grant.revoked', (ctx, grantId) => {
      const client = ctx.oidc?.client?.clientId ?? 'unknown'
      void this.#c.grants.recordEnd(grantId, client, client, whyTheLibraryEnded(ctx))
        .catch((err: unknown) => logger.error({ err }, 'could not write audit entry'))
      logger.info({ client_id: client, grant_id: grantId }, 'grant revoked')
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
    await answerForAccessToken(ctx, this.#c)
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
    // Revoked (or expired) while its consent page was open: no grant for an app that is gone.
    if (await this.provider.Client.find(clientId) === undefined) {
      return await this.provider.interactionResult(
        req as IncomingMessage,
        res as ServerResponse,
        { error: 'invalid_client', error_description: 'This app is no longer registered here.' },
        { mergeWithLastSubmission: false }
      )
    }
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
    return await this.provider.interactionResult(
      req as IncomingMessage,
      res as ServerResponse,
      { error: 'access_denied', error_description: 'The operator did not allow this app.' },
      { mergeWithLastSubmission: false }
    )
  }

  /** A client's registration facts for the consent page, undefined when the client is unknown. */
  async clientFacts (clientId: string): Promise<{ name: string, registeredBy: 'operator' | 'itself' | 'document', createdAt?: Date | undefined, redirectUris: string[] } | undefined> {
    const own = await this.#c.clients.get(clientId)
    if (own !== undefined) return { name: own.name, registeredBy: 'operator', createdAt: own.createdAt, redirectUris: [] }
    const c = await this.provider.Client.find(clientId)
    if (c === undefined) return undefined
    const meta = c.metadata() as Record<string, unknown>
    const issued = typeof meta.client_id_issued_at === 'number' ? new Date(meta.client_id_issued_at * 1000) : undefined
    // A Client ID Metadata Document: the client id is the document's https URL.
    const registeredBy = isMetadataDocumentId(clientId) ? 'document' : 'itself'
    return { name: String(meta.client_name ?? clientId), registeredBy, createdAt: issued, redirectUris: (meta.redirect_uris as string[] | undefined) ?? [] }
  }

  async #renewRegistration (clientId: string): Promise<void> {
    try {
      const stored = await this.#c.oauthPayloads.find('Client', clientId)
      // A revoked registration keeps the expiry it was given when revoked.
      if (stored !== undefined && stored.revoked_at === undefined) await this.#c.oauthPayloads.upsert('Client', clientId, stored, this.#registeredTtl)
    } catch (err) {
      this.#c.logger.warn({ err, client_id: clientId }, 'could not renew a client registration')
    }
  }

  /** Grants the operator approved, newest first. */
  async grants (): Promise<GrantView[]> {
    return await this.#c.grants.list()
  }

  /** Withdraws a grant: its refresh tokens and codes go, and its access tokens stop working at once. */
  async revokeGrant (grantId: string, actor: string): Promise<boolean> {
    return await this.#c.grants.revoke(grantId, actor)
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
