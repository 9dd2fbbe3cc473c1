import type { Scope } from '../auth/scopes.ts'
import { DEFAULT_TOOL_SCOPE, type Caller, type Catalog } from './catalog.ts'

/**
 * The one table of what each MCP method needs. The HTTP front reads it to answer OAuth's 403
 * (which clients can step up from), the servers' message gate reads it again where each message
 * is handled (so no path — a batch element, a new SDK method — can skip it), and the
 * notification filters read its `EVENT_SCOPES` half. `token` means a valid token and nothing more.
 */
const METHOD_SCOPES: Record<string, Scope | 'token'> = {
  initialize: 'token',
  ping: 'token',
  'logging/setLevel': 'token',
  'server/discover': 'token',
  // What a listener receives is narrowed to the caller's scopes instead (see listenFilterFor).
  'subscriptions/listen': 'token',
  'tools/list': 'mcp:read',
  'resources/list': 'mcp:read',
  'resources/templates/list': 'mcp:read',
  'prompts/list': 'mcp:read',
  'prompts/get': 'mcp:read',
  'resources/read': 'mcp:resources',
  'resources/subscribe': 'mcp:resources',
  'resources/unsubscribe': 'mcp:resources'
}

/** A request method missing from the table needs this: a method the SDK adds later is not open to every token. */
const DEFAULT_SCOPE: Scope = 'mcp:read'

/**
 * What each kind of notification needs, wherever it is delivered (the REST stream, MCP sessions,
 * 2026 listen streams): audit entries are the logs resource's contents, so they need what
 * reading that resource needs.
 */
export const EVENT_SCOPES = {
  log: 'mcp:resources',
  resource_updated: 'mcp:resources',
  peer: 'mcp:read',
  tools_list_changed: 'mcp:read',
  prompts_list_changed: 'mcp:read',
  resources_list_changed: 'mcp:read'
} as const satisfies Record<string, Scope>

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * The scope one JSON-RPC message needs; undefined for one that needs only a valid token
 * (notifications, responses to the server's own requests, initialize, ping...).
 */
export function scopeForMessage (message: unknown, catalog: Pick<Catalog, 'toolScope'>): Scope | undefined {
  if (!isObject(message)) return undefined
  const { method, params } = message
  // A response (to sampling or elicitation) or a notification carries no right of its own.
  if (typeof method !== 'string' || !('id' in message)) return undefined
  const p = isObject(params) ? params : {}
  if (method === 'tools/call') {
    // An unknown tool needs mcp:call to be told it is unknown.
    return catalog.toolScope(typeof p.name === 'string' ? p.name : '') ?? DEFAULT_TOOL_SCOPE
  }
  if (method === 'completion/complete') {
    // Completing a template's variables is reading about resources; a prompt's, about prompts.
    const ref = isObject(p.ref) ? p.ref : {}
    return ref.type === 'ref/resource' ? 'mcp:resources' : 'mcp:read'
  }
  const needed = Object.hasOwn(METHOD_SCOPES, method) ? METHOD_SCOPES[method]! : DEFAULT_SCOPE
  return needed === 'token' ? undefined : needed
}

/** Every scope a body (one message, or a batch of them) needs, each named once. */
export function scopesForBody (body: unknown, catalog: Pick<Catalog, 'toolScope'>): Scope[] {
  const messages = Array.isArray(body) ? body : [body]
  const needed = new Set<Scope>()
  for (const m of messages) {
    const s = scopeForMessage(m, catalog)
    if (s !== undefined) needed.add(s)
  }
  return [...needed]
}

export interface ListenFilter {
  toolsListChanged?: boolean
  promptsListChanged?: boolean
  resourcesListChanged?: boolean
  resourceSubscriptions?: string[]
}

/**
 * A 2026 `subscriptions/listen` filter narrowed to what the caller may receive. The server's
 * acknowledgement then tells the client what it got (MCP 2026-07-28: the server reports which
 * notification types it agreed to honor), rather than a refusal of the whole stream.
 */
export function listenFilterFor (filter: ListenFilter, caller: Pick<Caller, 'scopes'>): ListenFilter {
  const may = (s: Scope): boolean => caller.scopes.includes(s)
  const out: ListenFilter = {}
  if (filter.toolsListChanged === true && may(EVENT_SCOPES.tools_list_changed)) out.toolsListChanged = true
  if (filter.promptsListChanged === true && may(EVENT_SCOPES.prompts_list_changed)) out.promptsListChanged = true
  if (filter.resourcesListChanged === true && may(EVENT_SCOPES.resources_list_changed)) out.resourcesListChanged = true
  if (Array.isArray(filter.resourceSubscriptions) && may(EVENT_SCOPES.resource_updated)) out.resourceSubscriptions = filter.resourceSubscriptions
  return out
}
