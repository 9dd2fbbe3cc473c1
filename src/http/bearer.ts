import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AccessIdentity, VerifyResult } from '../auth/index.ts'
import type { Scope } from '../auth/scopes.ts'
import type { ErrorCode } from '../shared/errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no token (health, info, OAuth and discovery endpoints). */
    public?: boolean
    /** The scope a token needs for this route; routes that are not public need a token in any case. */
    scope?: Scope
    /**
     * For a route whose requests each need their own scope (MCP messages, tools): the scopes its
     * 401 challenge names, so a client that gets its own token asks for what it will use.
     */
    challengeScope?: readonly string[]
  }
  interface FastifyRequest {
    /** Who the verified Bearer token says the caller is. */
    identity?: AccessIdentity
  }
}

export interface BearerComponents {
  verify (token: string): Promise<VerifyResult>
}

export interface BearerOptions {
  /** RFC 9728 metadata URL, named in every WWW-Authenticate challenge (known once listening). */
  resourceMetadataUrl (): string
}

const B64TOKEN = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/

/** A `WWW-Authenticate: Bearer` value naming the resource metadata (RFC 9728 §5.1). */
export function challenge (opts: BearerOptions, params: Record<string, string>): string {
  const all = { ...params, resource_metadata: opts.resourceMetadataUrl() }
  return 'Bearer ' + Object.entries(all).map(([k, v]) => `${k}="${v.replace(/["\\]/g, '')}"`).join(', ')
}

export function refuse (reply: FastifyReply, status: number, header: string, error: ErrorCode, message: string): FastifyReply {
  return reply.code(status).header('www-authenticate', header).header('cache-control', 'no-store')
    .type('application/json; charset=utf-8').send({ error, message })
}

/** The identity of a request's Bearer token, or undefined when it has no valid one (for routes public in part). */
export async function bearerIdentity (req: FastifyRequest, verify: BearerComponents['verify']): Promise<AccessIdentity | undefined> {
  const m = B64TOKEN.exec((req.headers.authorization ?? '').replace(/^bearer/i, 'Bearer'))
  if (m === null) return undefined
  const result = await verify(m[1]!)
  return result.ok ? result.identity : undefined
}

/**
 * Requires a valid Bearer token (RFC 6750) on every route that is not marked public, and the
 * route's scope where it declares one. Routes declare what they need in one place, their
 * `config`; the answers follow RFC 6750 §3 and RFC 9728 §5.1 (`resource_metadata` in every
 * challenge, so clients can find the authorization server).
 */
export function registerBearerGuard (app: FastifyInstance, components: BearerComponents, opts: BearerOptions): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config
    if (config.public === true || req.routeOptions.url === undefined) return // public, or no such route (404/405)

    // RFC 6750 §2.3 allows a token in the query string; OAuth 2.1 §5.1 removes it (it leaks
    // through logs and Referer), so it is refused even when a header is present as well.
    if (/[?&]access_token=/.test(req.url)) {
      return refuse(reply, 400, challenge(opts, { error: 'invalid_request', error_description: 'Send the access token in the Authorization header, never in the URL.' }),
        'invalid_request', 'Send the access token in the Authorization header, never in the URL.')
    }
    // The route's scope goes into every 401 challenge: MCP clients request what the challenge
    // names (MCP 2025-11-25, scope selection) instead of every scope the server supports.
    const needed = config.scope
    const named = needed ?? config.challengeScope?.join(' ')
    const scopeParam: Record<string, string> = named === undefined ? {} : { scope: named }
    const header = req.headers.authorization
    if (header === undefined || !/^Bearer\s/i.test(header)) {
      // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
      return refuse(reply, 401, challenge(opts, { realm: 'edge-hive', ...scopeParam }), 'unauthorized', 'This endpoint needs an access token: Authorization: Bearer <token>.')
    }
    const m = B64TOKEN.exec(header.replace(/^bearer/i, 'Bearer'))
    const result = m === null ? { ok: false as const } : await components.verify(m[1]!)
    if (!result.ok) {
      // Deliberately the same answer for every failed check: no hint of which one failed.
      return refuse(reply, 401, challenge(opts, { realm: 'edge-hive', error: 'invalid_token', error_description: 'The access token is invalid.', ...scopeParam }),
        'invalid_token', 'The access token is missing, malformed, expired, revoked or not for this node.')
    }
    if (needed !== undefined && !result.identity.scopes.includes(needed)) {
      return refuse(reply, 403, challenge(opts, { realm: 'edge-hive', error: 'insufficient_scope', scope: needed, error_description: `This needs the ${needed} scope.` }),
        'insufficient_scope', `This needs the ${needed} scope, which the token does not carry.`)
    }
    req.identity = result.identity
  })
}
