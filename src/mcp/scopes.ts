import type { Scope } from '../auth/scopes.ts'
import type { Catalog } from './catalog.ts'

// What each MCP method needs. Methods not listed (initialize, ping, notifications, logging,
// completion, server/discover, subscriptions/listen) need a valid token and nothing more.
const METHOD_SCOPES: Record<string, Scope> = {
  'tools/list': 'mcp:read',
  'resources/list': 'mcp:read',
  'resources/templates/list': 'mcp:read',
  'prompts/list': 'mcp:read',
  'prompts/get': 'mcp:read',
  'resources/read': 'mcp:resources',
  'resources/subscribe': 'mcp:resources',
  'resources/unsubscribe': 'mcp:resources'
}

/**
 * The scope a JSON-RPC message needs, decided before the SDK sees it, so that a missing scope
 * is answered as OAuth says (HTTP 403 `insufficient_scope`, which clients can step up from)
 * and not as a generic JSON-RPC error.
 */
export function requiredScope (message: unknown, catalog: Catalog): Scope | undefined {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return undefined
  const { method, params } = message as { method?: unknown, params?: { name?: unknown } }
  if (typeof method !== 'string') return undefined
  if (method === 'tools/call') {
    const name = typeof params?.name === 'string' ? params.name : ''
    // An unknown tool needs mcp:call to be told it is unknown.
    return catalog.toolScope(name) ?? 'mcp:call'
  }
  return METHOD_SCOPES[method]
}
