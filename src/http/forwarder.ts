import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccessIdentity } from '../auth/index.ts'
import { challenge, refuse, type BearerOptions } from './bearer.ts'
import { sha256 } from '../shared/hash.ts'

/** Who an agent is, as this node verified it, handed to the member that answers. */
export interface HiveCaller {
  clientId: string
  scopes: string[]
  /** Unix seconds. */
  expiresAt: number
  /** Tells one token from another (the member's sessions follow it), without being the token. */
  tokenRef: string
}

export interface HiveRequest {
  target: 'mcp' | 'tool' | 'resource' | 'info'
  method?: string | undefined
  headers?: Record<string, string> | undefined
  uri?: string | undefined
  body?: Uint8Array | undefined
}

/**
 * Sends a request to the member of the hive with `nodeId` and gives back its answer as it
 * streams. Throws an error with `status`, `code` and a `message` meant for the caller when it
 * cannot (not a member 404, offline 503, too many open 429, no answer in time 504).
 */
export type Forwarder = (nodeId: string, request: HiveRequest, caller: HiveCaller, signal: AbortSignal) => Promise<Response>

/** Scopes a caller may be asked to get for a member's sake (mcp:admin never crosses the hive). */
const STEP_UP_SCOPES = ['mcp:read', 'mcp:call', 'mcp:resources']

/** The answer header by which a member says which scope the caller's own token lacks. */
export const REQUIRED_SCOPE_HEADER = 'edge-hive-required-scope'

/** The caller of a request, as it crosses the hive: never the token itself, and never mcp:admin. */
export function hiveCaller (identity: AccessIdentity): HiveCaller {
  return {
    clientId: identity.clientId,
    scopes: identity.scopes.filter((s) => s !== 'mcp:admin'),
    expiresAt: Math.floor(identity.expiresAt.getTime() / 1000),
    tokenRef: sha256(identity.jti).slice(0, 32)
  }
}

/** An AbortSignal that fires when the client of this request goes away. */
export function clientGone (reply: FastifyReply): AbortSignal {
  const abort = new AbortController()
  reply.raw.once('close', () => abort.abort())
  return abort.signal
}

/**
 * A member's answer to send on: a refusal for a scope the caller's own token lacks becomes this
 * node's OAuth 403 challenge (the client can ask this node for a wider token); any other answer
 * passes as it is, without the header that said so.
 */
export function answerFromMember (reply: FastifyReply, response: Response, opts: BearerOptions, identity: AccessIdentity): Response | FastifyReply {
  const named = response.headers.get(REQUIRED_SCOPE_HEADER)
  if (named === null) return response
  void response.body?.cancel().catch(() => undefined)
  // What the member names is believed only as far as this node can check it: scopes that may
  // cross the hive and that the caller's token lacks. Anything else is not worth a new token.
  const scope = named.split(' ').filter((s) => STEP_UP_SCOPES.includes(s) && !identity.scopes.includes(s)).join(' ')
  if (scope === '') return reply.code(403).header('cache-control', 'no-store').send({ error: 'forbidden', message: 'The member refused this request.' })
  return refuse(reply, 403, challenge(opts, { realm: 'edge-hive', error: 'insufficient_scope', scope, error_description: `This needs the ${scope} scope.` }),
    'insufficient_scope', `This needs the ${scope} scope, which the token does not carry.`)
}

/** The request's body as bytes, for forwarding. */
export function bodyBytes (req: FastifyRequest): Uint8Array | undefined {
  const b = req.body
  if (b === undefined || b === null) return undefined
  if (typeof b === 'string') return Buffer.from(b)
  return Buffer.from(JSON.stringify(b))
}
