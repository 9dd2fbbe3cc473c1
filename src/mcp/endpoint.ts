import { randomUUID } from 'node:crypto'
import {
  WebStandardStreamableHTTPServerTransport, createMcpHandler, isInitializeRequest, isLegacyRequest,
  type AuthInfo, type McpHttpHandler, type McpServer
} from '@modelcontextprotocol/server'
import type { Logger } from '../shared/logger.ts'
import type { Catalog, Caller } from './catalog.ts'
import { SessionEventStore } from './event-store.ts'
import { buildMcpServer, type ServerInfo } from './server-factory.ts'

export interface McpEndpointOptions {
  info: ServerInfo
  /** A 2025 session unused this long is closed. */
  sessionIdleMs: number
  maxSessions: number
  maxRequestBodySize: number
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport
  server: McpServer
  dispose (): void
  clientId: string
  subscriptions: Set<string>
  lastSeen: number
  /** GET streams open now: a client listening for notifications is using its session. */
  openStreams: number
}

function jsonRpcError (status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status })
}

function callerOf (authInfo: AuthInfo | undefined): Caller {
  return { clientId: authInfo?.clientId ?? 'anonymous', scopes: authInfo?.scopes ?? [] }
}

/**
 * The MCP endpoint, both protocol eras at one URL. 2025-11-25 traffic (and older) gets
 * sessions: `Mcp-Session-Id`, a GET SSE stream, resumability through a per-session event
 * store, DELETE, idle expiry; a session answers only the client that opened it. 2026-07-28
 * traffic is served statelessly by the SDK's handler, with `subscriptions/listen`.
 */
export class McpEndpoint {
  readonly #catalog: Catalog
  readonly #options: McpEndpointOptions
  readonly #log: Logger
  readonly #sessions = new Map<string, Session>()
  readonly #modern: McpHttpHandler
  readonly #sweeper: NodeJS.Timeout
  #closed = false

  constructor (catalog: Catalog, options: McpEndpointOptions, logger: Logger) {
    this.#catalog = catalog
    this.#options = options
    this.#log = logger
    this.#modern = createMcpHandler((ctx) => buildMcpServer(options.info, catalog, callerOf(ctx.authInfo)).server, {
      legacy: 'reject',
      maxRequestBodySize: options.maxRequestBodySize,
      onerror: (err) => logger.debug({ err: err.message }, 'mcp request refused')
    })
    catalog.on('toolsChanged', () => this.#modern.notify.toolsChanged())
    this.#sweeper = setInterval(() => { void this.#sweep() }, Math.min(60_000, options.sessionIdleMs)).unref()
  }

  get sessionCount (): number {
    return this.#sessions.size
  }

  /** Answers one HTTP request to the endpoint; `authInfo` is the verified token. */
  async handle (request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    if (this.#closed) return jsonRpcError(503, -32000, 'The node is stopping.')
    const legacy = await isLegacyRequest(request, parsedBody, { maxRequestBodySize: this.#options.maxRequestBodySize })
    if (!legacy) return await this.#modern.fetch(request, { authInfo, parsedBody })

    const sid = request.headers.get('mcp-session-id')
    if (sid !== null) {
      const session = this.#sessions.get(sid)
      // Another client's session is not found, rather than forbidden: its id tells nothing.
      if (session === undefined || session.clientId !== authInfo.clientId) return jsonRpcError(404, -32001, 'Session not found; start a new one with initialize.')
      session.lastSeen = Date.now()
      if (request.method === 'GET') {
        session.openStreams++
        request.signal.addEventListener('abort', () => { session.openStreams--; session.lastSeen = Date.now() }, { once: true })
      }
      return await session.transport.handleRequest(request, { parsedBody, authInfo })
    }
    if (request.method === 'POST' && isInitializeRequest(parsedBody)) {
      if (this.#sessions.size >= this.#options.maxSessions) return jsonRpcError(503, -32000, 'Too many open sessions; try again later.')
      return await this.#openSession(request, parsedBody, authInfo)
    }
    return jsonRpcError(400, -32000, 'Bad Request: no valid session; send initialize first, or Mcp-Session-Id.')
  }

  async #openSession (request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    const subscriptions = new Set<string>()
    const caller = callerOf(authInfo)
    const { server, dispose } = buildMcpServer(this.#options.info, this.#catalog, caller, {
      onSubscribe: (uri) => { if (subscriptions.size < 100) subscriptions.add(uri) },
      onUnsubscribe: (uri) => subscriptions.delete(uri)
    }, true)
    const transport = new WebStandardStreamableHTTPServerTransport({
      // Cryptographically random, as the transport spec asks (§ Session Management).
      sessionIdGenerator: () => randomUUID(),
      eventStore: new SessionEventStore(),
      onsessioninitialized: (id) => {
        this.#sessions.set(id, { transport, server, dispose, clientId: authInfo.clientId, subscriptions, lastSeen: Date.now(), openStreams: 0 })
        this.#log.debug({ session: id, client_id: authInfo.clientId }, 'mcp session opened')
      },
      onsessionclosed: (id) => { this.#forget(id) }
    })
    await server.connect(transport)
    return await transport.handleRequest(request, { parsedBody, authInfo })
  }

  #forget (id: string): void {
    const s = this.#sessions.get(id)
    if (s === undefined) return
    this.#sessions.delete(id)
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
