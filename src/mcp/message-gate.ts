import { McpServer, type Transport, type JSONRPCMessage } from '@modelcontextprotocol/server'
import type { Catalog, Caller } from './catalog.ts'
import { EVENT_SCOPES, scopeForMessage } from './scopes.ts'

/**
 * JSON-RPC error for a message the caller's token does not allow. JSON-RPC 2.0 leaves
 * -32000..-32099 to the server; MCP defines no code for this, and over HTTP the front answers
 * such a request with OAuth's 403 before it gets here, so this is the answer of last resort.
 */
export const FORBIDDEN = -32003

type McpServerOptions = ConstructorParameters<typeof McpServer>[1]

/** What a caller must hold to be sent a notification of this method; undefined: anyone. */
function scopeForNotification (method: string): string | undefined {
  switch (method) {
    case 'notifications/tools/list_changed': return EVENT_SCOPES.tools_list_changed
    case 'notifications/prompts/list_changed': return EVENT_SCOPES.prompts_list_changed
    case 'notifications/resources/list_changed': return EVENT_SCOPES.resources_list_changed
    case 'notifications/resources/updated': return EVENT_SCOPES.resource_updated
    default: return undefined
  }
}

/**
 * An McpServer that checks every message where it is handled, against the one scope table:
 * each request (a batch element too) before its handler runs, each notification before it is
 * sent. (A 2026 `subscriptions/listen` never reaches a server: the SDK's handler serves it, so
 * the endpoint narrows its filter before.) The HTTP front checks the same table first (to answer OAuth's 403); this gate is what makes a
 * path the front does not know about — a new SDK method, a batch — unable to skip it.
 *
 * It hooks the public Transport contract (`onmessage`, `send`) at `connect`, the one place both
 * eras hand a server its transport (sessions and the SDK's per-request handler alike).
 */
export class ScopedMcpServer extends McpServer {
  readonly #scopes: string[]
  readonly #catalog: Pick<Catalog, 'toolScope'>

  constructor (info: ConstructorParameters<typeof McpServer>[0], options: McpServerOptions, caller: Caller, catalog: Pick<Catalog, 'toolScope'>) {
    super(info, options)
    this.#scopes = caller.scopes
    this.#catalog = catalog
  }

  override async connect (transport: Transport): Promise<void> {
    await super.connect(transport)
    const deliver = transport.onmessage
    const send = transport.send.bind(transport)
    const scopes = this.#scopes
    transport.onmessage = (message, extra) => {
      const m = message as JSONRPCMessage & { method?: unknown, id?: string | number }
      const needed = scopeForMessage(m, this.#catalog)
      if (needed !== undefined && !scopes.includes(needed) && m.id !== undefined) {
        void send({
          jsonrpc: '2.0',
          id: m.id,
          error: { code: FORBIDDEN, message: `Forbidden: ${String(m.method)} needs the ${needed} scope, which the token does not carry.`, data: { required_scope: needed } }
        }, { relatedRequestId: m.id }).catch(() => undefined)
        return
      }
      deliver?.(message, extra)
    }
    transport.send = async (message, options) => {
      const method = (message as { method?: unknown }).method
      if (typeof method === 'string' && !('id' in message)) {
        const needed = scopeForNotification(method)
        if (needed !== undefined && !scopes.includes(needed)) return
      }
      await send(message, options)
    }
  }
}
