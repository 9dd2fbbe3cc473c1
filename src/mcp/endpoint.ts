import { randomUUID } from 'node:crypto'
import {
  WebStandardStreamableHTTPServerTransport, createMcpHandler, isInitializeRequest, isLegacyRequest,
  SUPPORTED_PROTOCOL_VERSIONS, type AuthInfo, type McpHttpHandler, type McpServer
} from '@modelcontextprotocol/server'
import type { Logger } from '../shared/logger.ts'
import type { Catalog, Caller } from './catalog.ts'
import { SessionEventStore } from './event-store.ts'
import { buildMcpServer, type ServerInfo, type SessionHooks } from './server-factory.ts'
import { CallerQuota, quotaMessage } from './caller-quota.ts'
import { listenFilterFor, type ListenFilter } from './scopes.ts'
import { parseHiveToken } from './hive-entry.ts'

/** Why a token stopped being good: it expired, or its client or grant was revoked. */
export type TokenEnd = 'expired' | 'revoked'

/** Calls `onEnd` once when the token stops being valid; the returned function stops watching. */
export type WatchToken = (token: string, onEnd: (why: TokenEnd) => void) => () => void

/**
 * JSON-RPC batches exist only in MCP 2025-03-26: the revision before it never had them and
 * 2025-06-18 removed them again ("Remove support for JSON-RPC batching").
 */
const BATCH_REVISIONS = new Set(['2025-03-26'])

export interface McpEndpointOptions {
  info: ServerInfo
  /** A 2025 session unused this long is closed. */
  sessionIdleMs: number
  maxSessions: number
  maxSessionsPerClient: number
  /** 2026 subscriptions/listen streams open at once, in all and per client. */
  maxStreams: number
  maxStreamsPerClient: number
  maxRequestBodySize: number
  /** Places shared with another endpoint of the node (the hive view), so the limits hold for both together. */
  quotas?: EndpointQuotas | undefined
}

/**
 * The places of an endpoint's long-lived things: sessions and listen streams, in all and per
 * client; and those of callers that came through other members, per member: their client ids
 * are the member's to name, so each member may hold at most a quarter of the node's.
 */
export class EndpointQuotas {
  readonly sessions: CallerQuota
  readonly listen: CallerQuota
  readonly memberSessions: CallerQuota
  readonly memberStreams: CallerQuota

  constructor (o: { maxSessions: number, maxSessionsPerClient: number, maxStreams: number, maxStreamsPerClient: number }) {
    this.sessions = new CallerQuota({ total: o.maxSessions, perClient: o.maxSessionsPerClient })
    this.listen = new CallerQuota({ total: o.maxStreams, perClient: o.maxStreamsPerClient })
    this.memberSessions = new CallerQuota({ total: o.maxSessions, perClient: Math.max(1, Math.floor(o.maxSessions / 4)) })
    this.memberStreams = new CallerQuota({ total: o.maxStreams, perClient: Math.max(1, Math.floor(o.maxStreams / 4)) })
  }
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport
  server: McpServer
  dispose (): void
  clientId: string
  /** The token of the newest request: the session ends when it does. */
  token: string
  unwatch (): void
  release (): void
  subscriptions: Set<string>
  lastSeen: number
  /** GET streams open now: a client listening for notifications is using its session. */
  openStreams: number
}

function jsonRpcError (status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status })
}

/**
 * What the endpoint serves: an MCP server for one caller (per request in the 2026 era, per
 * session in the 2025 era, then `follow`ing changes), and a way to hear that the tools changed.
 * The node's own catalog is one source (`catalogSource`); the hive view is another.
 */
export interface ServerSource {
  build (authInfo: AuthInfo | undefined, hooks: SessionHooks, follow: boolean): { server: McpServer, dispose (): void }
  onToolsChanged (listener: () => void): void
}

/** The node's own tools, resources and prompts, as the caller's scopes allow. */
export function catalogSource (info: ServerInfo, catalog: Catalog): ServerSource {
  return {
    build: (authInfo, hooks, follow) => buildMcpServer(info, catalog, callerOf(authInfo), hooks, follow),
    onToolsChanged: (listener) => { catalog.on('toolsChanged', listener) }
  }
}

function callerOf (authInfo: AuthInfo | undefined): Caller {
  return { clientId: authInfo?.clientId ?? 'anonymous', scopes: authInfo?.scopes ?? [] }
}

/** The protocol versions the endpoint serves: 2026-07-28 stateless, and those of the session era. */
export const SERVED_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28', ...SUPPORTED_PROTOCOL_VERSIONS]

/**
 * The MCP endpoint, both protocol eras at one URL. 2025-11-25 traffic (and older) gets
 * sessions: `Mcp-Session-Id`, a GET SSE stream, resumability through a per-session event
 * store, DELETE, idle expiry; a session answers only the client that opened it. 2026-07-28
 * traffic is served statelessly by the SDK's handler, with `subscriptions/listen`.
 */
export class McpEndpoint {
  readonly #source: ServerSource
  readonly #options: McpEndpointOptions
  readonly #log: Logger
  readonly #sessions = new Map<string, Session>()
  readonly #modern: McpHttpHandler
  readonly #sweeper: NodeJS.Timeout
  readonly #watchToken: WatchToken
  readonly #q: EndpointQuotas
  #closed = false

  constructor (source: ServerSource, options: McpEndpointOptions, logger: Logger, watchToken: WatchToken) {
    this.#source = source
    this.#options = options
    this.#log = logger
    this.#watchToken = watchToken
    this.#q = options.quotas ?? new EndpointQuotas(options)
    this.#modern = createMcpHandler((ctx) => source.build(ctx.authInfo, {}, false).server, {
      legacy: 'reject',
      maxRequestBodySize: options.maxRequestBodySize,
      maxSubscriptions: options.maxStreams,
      onerror: (err) => logger.debug({ err: err.message }, 'mcp request refused')
    })
    source.onToolsChanged(() => this.#modern.notify.toolsChanged())
    this.#sweeper = setInterval(() => { void this.#sweep() }, Math.min(60_000, options.sessionIdleMs)).unref()
  }

  get sessionCount (): number {
    return this.#sessions.size
  }

  /** Answers one HTTP request to the endpoint; `authInfo` is the verified token. */
  async handle (request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    if (this.#closed) return jsonRpcError(503, -32000, 'The node is stopping.')
    const legacy = await isLegacyRequest(request, parsedBody, { maxRequestBodySize: this.#options.maxRequestBodySize })
    if (!legacy) return await this.#serveModern(request, parsedBody, authInfo)

    const sid = request.headers.get('mcp-session-id')
    if (sid !== null) {
      const session = this.#sessions.get(sid)
      // Another client's session is not found, rather than forbidden: its id tells nothing.
      if (session === undefined || session.clientId !== authInfo.clientId) return jsonRpcError(404, -32001, 'Session not found; start a new one with initialize.')
      if (Array.isArray(parsedBody)) {
        const revision = session.server.server.getNegotiatedProtocolVersion() ?? 'unknown'
        if (!BATCH_REVISIONS.has(revision)) return jsonRpcError(400, -32600, `Invalid Request: MCP ${revision} has no JSON-RPC batches; send one message per request.`)
      }
      session.lastSeen = Date.now()
      if (authInfo.token !== session.token) this.#follow(sid, session, authInfo.token)
      if (request.method === 'GET') {
        session.openStreams++
        request.signal.addEventListener('abort', () => { session.openStreams--; session.lastSeen = Date.now() }, { once: true })
      }
      return await session.transport.handleRequest(request, { parsedBody, authInfo })
    }
    if (Array.isArray(parsedBody)) return jsonRpcError(400, -32600, 'Invalid Request: initialize cannot be sent in a batch; send it alone.')
    if (request.method === 'POST' && isInitializeRequest(parsedBody)) {
      // Many clients never DELETE their sessions: at a limit, the least recently used session
      // without an open stream of the same member (first) or client makes room, rather than the
      // caller being refused.
      const via = parseHiveToken(authInfo.token)?.viaPeer
      let member = this.#memberPlace(this.#q.memberSessions, authInfo)
      if (!member.ok && await this.#evictIdle((s) => parseHiveToken(s.token)?.viaPeer === via)) member = this.#memberPlace(this.#q.memberSessions, authInfo)
      if (!member.ok) return jsonRpcError(429, -32000, 'The member this request came through holds as many MCP sessions here as it may; close one first.')
      let place = this.#q.sessions.acquire(callerOf(authInfo))
      if (!place.ok && place.reason === 'client_limit' && await this.#evictIdle((s) => s.clientId === authInfo.clientId)) place = this.#q.sessions.acquire(callerOf(authInfo))
      if (!place.ok) { member.release(); return jsonRpcError(place.reason === 'full' ? 503 : 429, -32000, quotaMessage(place.reason, 'MCP sessions')) }
      const held = place
      const release = (): void => { held.release(); member.release() }
      return await this.#openSession(request, parsedBody, authInfo, release)
    }
    return jsonRpcError(400, -32000, 'Bad Request: no valid session; send initialize first, or Mcp-Session-Id.')
  }

  /**
   * 2026-07-28 traffic: stateless, but a listen stream holds a place until it ends, and its
   * filter is narrowed to what the caller may receive (the SDK's handler serves listen itself,
   * so no server's gate sees it); the acknowledgement then tells the client what it got.
   */
  async #serveModern (request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    const message = parsedBody as { method?: unknown, params?: { notifications?: unknown } } | undefined
    if (message?.method !== 'subscriptions/listen') return await this.#modern.fetch(request, { authInfo, parsedBody })
    const caller = callerOf(authInfo)
    const filter = message.params?.notifications
    if (filter !== null && typeof filter === 'object') {
      parsedBody = { ...message, params: { ...message.params, notifications: listenFilterFor(filter as ListenFilter, caller) } }
    }
    const one = this.#q.listen.acquire(caller)
    if (!one.ok) return jsonRpcError(one.reason === 'full' ? 503 : 429, -32000, quotaMessage(one.reason, 'subscription streams'))
    const member = this.#memberPlace(this.#q.memberStreams, authInfo)
    if (!member.ok) { one.release(); return jsonRpcError(429, -32000, 'The member this request came through holds as many subscription streams here as it may; close one first.') }
    const release = (): void => { one.release(); member.release() }
    // The request's signal aborts when its HTTP exchange closes, however it ends.
    request.signal.addEventListener('abort', release, { once: true })
    try {
      return await this.#modern.fetch(request, { authInfo, parsedBody })
    } catch (err) {
      release()
      throw err
    }
  }

  /** A place in a per-member quota for a caller that came through another member; always granted to others. */
  #memberPlace (quota: CallerQuota, authInfo: AuthInfo): { ok: true, release: () => void } | { ok: false } {
    const via = parseHiveToken(authInfo.token)
    if (via === undefined) return { ok: true, release: () => undefined }
    return quota.acquire({ clientId: via.viaPeer, scopes: [] })
  }

  /** Closes the least recently used session that has no open stream among those `whose`; false if there is none. */
  async #evictIdle (whose: (s: Session) => boolean): Promise<boolean> {
    let oldest: [string, Session] | undefined
    for (const entry of this.#sessions) {
      const s = entry[1]
      if (whose(s) && s.openStreams === 0 && (oldest === undefined || s.lastSeen < oldest[1].lastSeen)) oldest = entry
    }
    if (oldest === undefined) return false
    this.#log.debug({ session: oldest[0], client_id: oldest[1].clientId }, 'mcp session closed to make room for a new one of the same client or member')
    this.#forget(oldest[0])
    await oldest[1].transport.close().catch(() => undefined)
    return true
  }

  /** The session now lives by `token`, the newest one its client used on it. */
  #follow (id: string, session: Session, token: string): void {
    session.unwatch()
    session.token = token
    session.unwatch = this.#watchToken(token, (why) => { void this.#end(id, why) })
  }

  /** Ends a session whose token expired or was revoked: its streams close, its id is forgotten. */
  async #end (id: string, why: string): Promise<void> {
    const s = this.#sessions.get(id)
    if (s === undefined) return
    this.#log.debug({ session: id, client_id: s.clientId, why }, 'mcp session ended with its token')
    this.#forget(id)
    await s.transport.close().catch(() => undefined)
  }

  async #openSession (request: Request, parsedBody: unknown, authInfo: AuthInfo, release: () => void): Promise<Response> {
    const subscriptions = new Set<string>()
    const { server, dispose } = this.#source.build(authInfo, {
      onSubscribe: (uri) => { if (subscriptions.size < 100) subscriptions.add(uri) },
      onUnsubscribe: (uri) => subscriptions.delete(uri)
    }, true)
    const transport = new WebStandardStreamableHTTPServerTransport({
      // Cryptographically random, as the transport spec asks (§ Session Management).
      sessionIdGenerator: () => randomUUID(),
      eventStore: new SessionEventStore(),
      onsessioninitialized: (id) => {
        const session: Session = { transport, server, dispose, clientId: authInfo.clientId, token: '', unwatch: () => undefined, release, subscriptions, lastSeen: Date.now(), openStreams: 0 }
        this.#sessions.set(id, session)
        this.#follow(id, session, authInfo.token)
        this.#log.debug({ session: id, client_id: authInfo.clientId }, 'mcp session opened')
      },
      onsessionclosed: (id) => { this.#forget(id) }
    })
    try {
      await server.connect(transport)
      const response = await transport.handleRequest(request, { parsedBody, authInfo })
      // An initialize the transport refused made no session: its place is free again.
      if (transport.sessionId === undefined || !this.#sessions.has(transport.sessionId)) release()
      return response
    } catch (err) {
      release()
      throw err
    }
  }

  #forget (id: string): void {
    const s = this.#sessions.get(id)
    if (s === undefined) return
    this.#sessions.delete(id)
    s.unwatch()
    s.release()
    s.dispose()
    this.#log.debug({ session: id }, 'mcp session closed')
  }

  async #sweep (now = Date.now()): Promise<void> {
    for (const [id, s] of this.#sessions) {
      if (s.openStreams > 0 || now - s.lastSeen < this.#options.sessionIdleMs) continue
      this.#forget(id)
      await s.transport.close().catch(() => undefined)
    }
  }

  /** Tells every subscriber that a resource changed (`notifications/resources/updated`). */
  resourceUpdated (uri: string): void {
    for (const s of this.#sessions.values()) {
      if (s.subscriptions.has(uri)) void s.server.server.sendResourceUpdated({ uri }).catch(() => undefined)
    }
    this.#modern.notify.resourceUpdated(uri)
  }

  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const [id, s] of [...this.#sessions]) {
      this.#forget(id)
      await s.transport.close().catch(() => undefined)
    }
    await this.#modern.close()
  }
}
