import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose'
import { ACCESS_TOKEN_ALG } from './signing-key.ts'
import type { RevocationList } from './revocation-list.ts'

/** What a verified access token says about its bearer. */
export interface AccessIdentity {
  clientId: string
  subject: string
  scopes: string[]
  jti: string
  expiresAt: Date
  agentType?: string | undefined
}

export type VerifyResult = { ok: true, identity: AccessIdentity } | { ok: false }

const CLOCK_TOLERANCE_S = 5
const MAX_TOKEN_LENGTH = 8192

export interface VerifierComponents {
  revocations: RevocationList
  isClientRevoked (clientId: string): boolean
}

/**
 * The resource server's check of a Bearer token (RFC 9068 JWT): our own key, our issuer,
 * this node's MCP URL as audience (RFC 8707), `typ: at+jwt`, EdDSA only (so `none` and
 * HS256-with-the-public-key are refused by construction), not expired, not revoked.
 * The answer does not say which check failed: that would help an attacker.
 */
/** The revocation list's key for a whole grant: its access tokens carry `grant_id`. */
export function grantRevocationKey (grantId: string): string {
  return `grant:${grantId}`
}

/** How many verified tokens are remembered (a few MB at most). */
const VERIFIED_CACHE_SIZE = 5000

export class AccessTokenVerifier {
  readonly #keys: ReturnType<typeof createLocalJWKSet>
  readonly #issuer: string
  readonly #audience: string
  readonly #c: VerifierComponents
  /** Verified tokens, oldest first (a Map keeps insertion order): evicted first when full. */
  readonly #cache = new Map<string, JWTPayload>()

  constructor (components: VerifierComponents, options: { publicJwk: JWK, issuer: string, audience: string }) {
    this.#c = components
    this.#keys = createLocalJWKSet({ keys: [options.publicJwk] })
    this.#issuer = options.issuer
    this.#audience = options.audience
  }

  /**
   * A token's verified payload, from a cache of tokens already verified (the same agent sends the
   * same token for an hour; the signature check is most of a request's cost). A cached token is
   * used only until its `exp`; revocation is checked by `verify` on every use regardless.
   */
  async #verifiedPayload (token: string): Promise<JWTPayload | undefined> {
    const now = Date.now() / 1000
    const hit = this.#cache.get(token)
    if (hit !== undefined) {
      if (Number(hit.exp) + CLOCK_TOLERANCE_S > now) return hit
      this.#cache.delete(token)
    }
    const p = await this.verifySignature(token)
    if (p === undefined) return undefined
    if (this.#cache.size >= VERIFIED_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(token, p)
    return p
  }

  /** Verifies the signature and claims only; revocation is checked by `verify`. */
  async verifySignature (token: string): Promise<JWTPayload | undefined> {
    if (token.length > MAX_TOKEN_LENGTH) return undefined
    try {
      const { payload } = await jwtVerify(token, this.#keys, {
        issuer: this.#issuer,
        audience: this.#audience,
        typ: 'at+jwt',
        algorithms: [ACCESS_TOKEN_ALG],
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id']
      })
      return payload
    } catch {
      return undefined
    }
  }

  async verify (token: string): Promise<VerifyResult> {
    const p = await this.#verifiedPayload(token)
    if (p === undefined) return { ok: false }
    const clientId = String(p.client_id)
    if (this.#c.revocations.isRevoked(String(p.jti)) || this.#c.isClientRevoked(clientId)) return { ok: false }
    // Tokens from a grant the operator revoked (people's apps) stop with it.
    if (typeof p.grant_id === 'string' && this.#c.revocations.isRevoked(grantRevocationKey(p.grant_id))) return { ok: false }
    return {
      ok: true,
      identity: {
        clientId,
        subject: String(p.sub),
        scopes: typeof p.scope === 'string' ? p.scope.split(' ').filter((s) => s !== '') : [],
        jti: String(p.jti),
        expiresAt: new Date(Number(p.exp) * 1000),
        agentType: typeof p.agent_type === 'string' ? p.agent_type : undefined
      }
    }
  }
}
