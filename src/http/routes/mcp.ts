import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { validateHostHeader, type AuthInfo } from '@modelcontextprotocol/server'
import { challenge, refuse, type BearerOptions } from '../bearer.ts'
import { MCP_CHALLENGE_SCOPES, type Scope } from '../../auth/scopes.ts'
import { answerFromMember, clientGone, hiveCaller, type Forwarder } from '../forwarder.ts'
import { nodeIdParam } from '../schemas.ts'
import { endWith, endWithError, startMcpSpan, under, withTraceparent, type McpTracer } from '../../mcp/index.ts'
import { EdgeError } from '../../shared/errors.ts'

/** Request headers of the MCP transport that a member needs to answer; the rest stay here. */
const FORWARDED_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name']

export interface McpRouteComponents {
  handle (request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response>
  /** Every scope a body (one JSON-RPC message or a batch) needs. */
  requiredScopes (body: unknown): Scope[]
  /** Calls `onEnd` once when the token expires or is revoked; returns how to stop watching. */
  watchToken (token: string, onEnd: (why: 'expired' | 'revoked') => void): () => void
  /** Hands a request to another member of the hive; undefined when the node has no hive. */
  forward: Forwarder | undefined
  /** Traces MCP requests when the node has a tracer (`--otel-endpoint`). */
  tracer: McpTracer | undefined
}

export interface McpRouteOptions extends BearerOptions {
  path: string
  bodyLimit: number
  /** The node's public base URL (the web Request's origin). */
  publicUrl (): string
  /** The resource tokens must be for (RFC 8707). */
  resource (): string
  /** Origins allowed to call from a browser, besides the node's own. */
  corsOrigins: string[]
  /** Host names allowed in the Host header (IPv6 in brackets, as in a URL); undefined: any (the node is not bound to loopback only). */
  allowedHosts: string[] | undefined
  /** This node's id: `/mcp/node/<it>/mcp` is this node's own endpoint. */
  nodeId: string
  /** Also serve each member's endpoint at `<path>/node/{node_id}/mcp` (the node's own endpoint does). */
  memberRoutes: boolean
  /** What the API document says of the endpoint. */
  summary: string
  description: string
}

/** A JSON-RPC error as the whole answer; `data.error` carries the node's error code, where there is one (docs/errors.md). */
function rpcError (reply: FastifyReply, status: number, code: number, message: string, data?: { error: string }): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ jsonrpc: '2.0', error: { code, message, ...(data === undefined ? {} : { data }) }, id: null })
}

/**
 * The web-standard Request the SDK's handlers take, built from fastify's request. A body that
 * was parsed here is not copied into it: the SDK takes the parsed one (`parsedBody`) and reads
 * the Request's only when there is none.
 */
function toWebRequest (req: FastifyRequest, reply: FastifyReply, base: string, body: string | undefined, parsed: unknown): Request {
  const abort = new AbortController()
  reply.raw.once('close', () => abort.abort())
  const headers: Record<string, string> = {}
  for (const k in req.headers) {
    const v = req.headers[k]
    // HTTP/2 pseudo-headers (`:path`) are not headers; content-length is recomputed.
    if (v === undefined || k.startsWith(':') || k === 'content-length' || k === 'host') continue
    headers[k] = Array.isArray(v) ? v.join(', ') : v
  }
  return new Request(`${base}${req.url}`, { method: req.method, headers, body: parsed === undefined ? body : undefined, signal: abort.signal })
}

const encoder = new TextEncoder()
const OPENED = encoder.encode(': stream open\n\n')

/** The last message of a stream whose token ended: an MCP log notification, which every client can show. */
function endedEvent (why: 'expired' | 'revoked'): Uint8Array {
  const text = why === 'expired'
    ? 'The access token that opened this stream has expired; the stream is closed. Open a new one with a fresh token.'
    : 'The access token that opened this stream was revoked (its client or grant ended); the stream is closed.'
  const message = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'warning', logger: 'edge-hive', data: { reason: `token_${why}`, message: text } } }
  return encoder.encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
}

/**
 * An SSE answer (the 2025 GET stream, a 2026 listen stream, a long tool call) lives no longer
 * than the token that opened it: when the token expires or is revoked, a last event says why
 * and the stream closes. A GET stream also gets an SSE comment at once, since its status and
 * headers would otherwise wait for the first event (the SDK writes none until a notification
 * or a 15 s keepalive) and clients and proxies with a shorter header timeout give up. With
 * `always`, any answer is cut when its token ends: an answer from another member is not known
 * to end by itself.
 */
export function tiedToToken (response: Response, opened: boolean, watch: (onEnd: (why: 'expired' | 'revoked') => void) => () => void, always = false): Response {
  const sse = (response.headers.get('content-type') ?? '').includes('text/event-stream')
  if (response.body === null || (!sse && !always)) return response
  const upstream = response.body.getReader()
  let unwatch = (): void => undefined
  const body = new ReadableStream<Uint8Array>({
    start: (ctrl) => {
      if (opened) ctrl.enqueue(OPENED)
      unwatch = watch((why) => {
        try { if (sse) ctrl.enqueue(endedEvent(why)); ctrl.close() } catch { /* closed already */ }
        void upstream.cancel().catch(() => undefined)
      })
    },
    pull: async (ctrl) => {
      try {
        const { done, value } = await upstream.read()
        if (done) { unwatch(); ctrl.close(); return }
        ctrl.enqueue(value)
      } catch {
        unwatch()
        try { ctrl.close() } catch { /* closed already */ }
      }
    },
    cancel: async () => { unwatch(); await upstream.cancel().catch(() => undefined) }
  })
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/**
 * `/mcp`: the checks that belong to HTTP (Origin and Host against DNS rebinding, JSON-RPC
 * parse errors, scopes answered as OAuth 403s), then the SDK-backed endpoint.
 */
export async function registerMcpRoute (app: FastifyInstance, c: McpRouteComponents, opts: McpRouteOptions): Promise<void> {
  /** A request for another member: checked there, under its policy; its answer streams back. */
  const forward = async (req: FastifyRequest, reply: FastifyReply, member: string, text: string | undefined, parsed: unknown): Promise<FastifyReply> => {
    if (c.forward === undefined) return rpcError(reply, 404, -32000, 'This node has no hive (it runs with --no-p2p), so no member can be reached through it.')
    const headers: Record<string, string> = {}
    for (const h of FORWARDED_HEADERS) { const v = req.headers[h]; if (typeof v === 'string') headers[h] = v }
    // Traced: this node's span for the request, and under it one for the hop, whose context the
    // member reads from the body (params._meta.traceparent).
    const span = startMcpSpan(c.tracer, parsed, { kind: 'server', protocolVersion: headers['mcp-protocol-version'], sessionId: headers['mcp-session-id'] })
    const hop = span === undefined ? undefined : startMcpSpan(c.tracer, parsed, { kind: 'client', parent: under(span), protocolVersion: headers['mcp-protocol-version'], member })
    const traced = hop === undefined ? parsed : withTraceparent(parsed, hop)
    const body = traced === parsed ? text : JSON.stringify(traced)
    let response: Response
    try {
      response = endWith(span, endWith(hop, await c.forward(
        member,
        { target: 'mcp', method: req.method, headers, body: body === undefined ? undefined : Buffer.from(body) },
        hiveCaller(req.identity!),
        clientGone(reply)
      )))
    } catch (err) {
      endWithError(hop, err)
      endWithError(span, err)
      // Only errors meant for the caller say what happened; anything else stays in the span.
      const shown = err instanceof EdgeError && err.expose
      if (shown) return rpcError(reply, err.status, -32000, err.message, { error: err.code })
      return rpcError(reply, 502, -32000, 'The member could not be reached.')
    }
    const token = req.headers.authorization!.slice(7)
    const out = answerFromMember(reply, response, opts, req.identity!)
    if (out !== response) return out as FastifyReply
    return await reply.send(tiedToToken(response, req.method === 'GET', (onEnd) => c.watchToken(token, onEnd), true))
  }

  await app.register(async (scope) => {
    // Parse JSON here rather than in fastify, so a malformed body is a JSON-RPC parse error.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: opts.bodyLimit }, (_req, text, done) => done(null, text))
    const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const origin = req.headers.origin
      if (origin !== undefined && origin !== new URL(opts.publicUrl()).origin && !opts.corsOrigins.includes(origin)) {
        return rpcError(reply, 403, -32000, 'Forbidden: this origin may not use the MCP endpoint.')
      }
      // DNS rebinding protection, with the SDK's own Host check (HTTP/2 names the host in :authority).
      if (opts.allowedHosts !== undefined && !validateHostHeader(req.headers.host ?? req.headers[':authority'] as string | undefined, opts.allowedHosts).ok) {
        return rpcError(reply, 403, -32000, 'Forbidden: unexpected Host header.')
      }
      const text = typeof req.body === 'string' ? req.body : undefined
      let parsed: unknown
      if (text !== undefined && text.trim() !== '') {
        try {
          parsed = JSON.parse(text)
        } catch {
          return rpcError(reply, 400, -32700, 'Parse error: the body is not valid JSON.')
        }
      }
      const identity = req.identity!
      const member = (req.params as { node_id?: string }).node_id
      if (member !== undefined && member !== opts.nodeId) return await forward(req, reply, member, text, parsed)
      // Each message of a batch needs its own scope: the batch is refused if any one is missing.
      const missing = req.method === 'POST' ? c.requiredScopes(parsed).filter((s) => !identity.scopes.includes(s)) : []
      if (missing.length > 0) {
        const needed = missing.join(' ')
        return refuse(reply, 403, challenge(opts, { realm: 'edge-hive', error: 'insufficient_scope', scope: needed, error_description: `This needs the ${needed} scope.` }),
          'insufficient_scope', `This needs the ${needed} scope, which the token does not carry.`)
      }
      const authInfo: AuthInfo = {
        token: req.headers.authorization!.slice(7),
        clientId: identity.clientId,
        scopes: identity.scopes,
        expiresAt: Math.floor(identity.expiresAt.getTime() / 1000),
        resource: new URL(opts.resource())
      }
      const span = req.method === 'POST'
        ? startMcpSpan(c.tracer, parsed, {
          kind: 'server',
          protocolVersion: req.headers['mcp-protocol-version'] as string | undefined,
          sessionId: req.headers['mcp-session-id'] as string | undefined
        })
        : undefined
      const response = endWith(span, await c.handle(toWebRequest(req, reply, opts.publicUrl(), text, parsed), parsed, authInfo).catch((err: unknown) => { endWithError(span, err); throw err }))
      return await reply.send(tiedToToken(response, req.method === 'GET', (onEnd) => c.watchToken(authInfo.token, onEnd)))
    }
    scope.route({
      method: ['GET', 'POST', 'DELETE'],
      url: opts.path,
      config: { challengeScope: MCP_CHALLENGE_SCOPES },
      schema: { tags: ['mcp'], summary: opts.summary, description: opts.description },
      handler
    })
    if (!opts.memberRoutes) return
    scope.route({
      method: ['GET', 'POST', 'DELETE'],
      url: `${opts.path}/node/:node_id/mcp`,
      config: { challengeScope: MCP_CHALLENGE_SCOPES },
      schema: {
        tags: ['mcp'],
        summary: 'The MCP endpoint of a member of the hive, reached through this node',
        description: 'The same protocol as /mcp, answered by the member with this node id over the hive, with its own tools and under its own policy: the caller gets at most the scopes that member grants callers from the hive (its --hive-scopes), and never mcp:admin. 404: no member has this id; 503: the member is offline or cannot be reached; 504: it did not answer in time. This node\'s own id is the same as /mcp.',
        params: nodeIdParam
      },
      handler
    })
  })
}
