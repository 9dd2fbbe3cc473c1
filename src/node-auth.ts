import type { Config } from './config/index.ts'
import type { AuditFeed, Store } from './store/index.ts'
import { AccessTokenVerifier, AuthorizationServer, RefusalAudit, type Grants, type RevocationList, type SigningKey } from './auth/index.ts'
import { authorizationPages } from './http/index.ts'
import type { Logger } from './shared/logger.ts'
import { StartupError } from './shared/errors.ts'

/** What the node's authorization server needs: its URLs are known once the HTTPS server listens. */
export interface AuthPartDeps {
  config: Config
  logger: Logger
  nodeId: string
  issuer: string
  resource: string
  store: Store
  audit: AuditFeed
  revocations: RevocationList
  grants: Grants
  signingKey: SigningKey
  cookieKeys: string[]
  isClientRevoked (clientId: string): boolean
}

/** The node's token verifier and authorization server, and the refusal summaries they audit. */
export interface AuthPart {
  verifier: AccessTokenVerifier
  authServer: AuthorizationServer
  refusals: RefusalAudit
}

export function buildAuthPart (d: AuthPartDeps): AuthPart {
  const url = new URL(d.issuer)
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new StartupError('issuer', `the OAuth issuer ${d.issuer} has a path; an issuer must be an origin such as https://node.example:8080`)
  }
  const c = d.config
  const log = d.logger.child({ part: 'auth' })
  const verifier = new AccessTokenVerifier(
    { revocations: d.revocations, isClientRevoked: d.isClientRevoked },
    { publicJwk: d.signingKey.publicJwk, issuer: d.issuer, audience: d.resource })
  // Refused requests are summed per source address, so a flood cannot fill the audit log.
  const refusals = new RefusalAudit(d.audit, { windowMs: c.rateLimitWindow }, (err) => { log.error({ err }, 'could not write audit entry') })
  const authServer = new AuthorizationServer({
    clients: d.store.clients,
    oauthPayloads: d.store.oauthPayloads,
    audit: refusals,
    verifier,
    revocations: d.revocations,
    grants: d.grants,
    logger: log
  }, {
    issuer: d.issuer,
    resource: d.resource,
    signingKey: d.signingKey,
    accessTokenTtlSeconds: Math.round(c.accessTokenTtl / 1000),
    nodeId: d.nodeId,
    refreshTokenTtlSeconds: Math.round(c.refreshTokenTtl / 1000),
    registeredClientTtlSeconds: Math.round(c.registeredClientTtl / 1000),
    clientMetadata: { enabled: c.clientMetadataDocuments, allowPrivate: c.clientMetadataPrivate },
    cookieKeys: d.cookieKeys,
    pages: authorizationPages(c.nodeName)
  })
  return { verifier, authServer, refusals }
}
