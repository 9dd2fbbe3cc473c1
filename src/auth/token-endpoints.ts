import type { KoaContextWithOIDC } from 'oidc-provider'
import type { AuditLog, ClientRepository } from '../store/index.ts'
import type { AccessTokenVerifier } from './token-verifier.ts'
import type { RevocationList } from './revocation-list.ts'

// What the library leaves to us at the revocation (RFC 7009) and introspection (RFC 7662)
// endpoints: our access tokens are JWTs (RFC 9068) that it does not store, so it answers
// `unsupported_token_type` for them, after authenticating the client; we know them by their jti.

export interface TokenEndpointComponents {
  clients: ClientRepository
  verifier: AccessTokenVerifier
  revocations: RevocationList
  audit: AuditLog
}

/**
 * Whether a client may introspect tokens that are not its own (RFC 7662 §4: the server decides
 * which protected resources may). Only a client the operator registered with `mcp:admin` and
 * has not revoked: the node's own registry decides, never metadata a client chose itself (an
 * app registering itself can name any `scope`). The node's resource server needs no right here:
 * it checks tokens in-process with the verifier.
 */
export async function mayIntrospectAny (clients: ClientRepository, clientId: string): Promise<boolean> {
  const own = await clients.get(clientId)
  return own !== undefined && own.revokedAt === undefined && own.scopes.includes('mcp:admin')
}

/**
 * `features.introspection.allowedPolicy`, for the tokens the library stores (refresh tokens): a
 * client's own, or any for an admin client. A token whose client is gone is never shown (the
 * library would look that client up to describe the token, and find nothing).
 */
export function introspectionPolicy (clients: ClientRepository) {
  return async (ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string | undefined }): Promise<boolean> => {
    if (token.clientId === client.clientId) return true
    if (token.clientId === undefined || !await mayIntrospectAny(clients, client.clientId)) return false
    return await ctx.oidc.provider.Client.find(token.clientId) !== undefined
  }
}

function sourceOf (ctx: KoaContextWithOIDC): string | undefined {
  return ctx.req.socket?.remoteAddress ?? undefined
}

/**
 * Answers a JWT access token at the revocation or introspection endpoint, after the library
 * refused it as `unsupported_token_type`. Does nothing for other requests.
 */
export async function answerForAccessToken (ctx: KoaContextWithOIDC, c: TokenEndpointComponents): Promise<void> {
  const route = ctx.oidc?.route
  if ((route !== 'revocation' && route !== 'introspection') || (ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return
  const client = ctx.oidc.client
  if (client === undefined) return
  const token = ctx.oidc.params?.token
  const payload = typeof token === 'string' ? await c.verifier.verifySignature(token) : undefined
  ctx.status = 200
  if (route === 'revocation') {
    // RFC 7009 §2.2: 200 also for a token that is invalid, unknown or not the client's.
    if (payload !== undefined && payload.client_id === client.clientId) {
      await c.revocations.revoke(String(payload.jti), client.clientId, new Date(Number(payload.exp) * 1000))
      await c.audit.append({ actor: client.clientId, action: 'token.revoked', target: String(payload.jti), source: sourceOf(ctx), outcome: 'success' })
    }
    ctx.body = ''
    return
  }
  // RFC 7662 §2.2: `active` is whether the resource server would accept the token now, so it
  // is the verifier's own answer (revoked token, grant or client included), not a second rule.
  const allowed = payload !== undefined && (payload.client_id === client.clientId || await mayIntrospectAny(c.clients, client.clientId))
  const active = allowed && typeof token === 'string' && (await c.verifier.verify(token)).ok
  ctx.type = 'json'
  ctx.body = active ? { active: true, ...payload, token_type: 'Bearer' } : { active: false }
}
