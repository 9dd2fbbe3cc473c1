/** The scopes a node grants. Each route and tool declares the one it needs. */
export const SCOPES = ['mcp:read', 'mcp:call', 'mcp:resources', 'mcp:admin'] as const
export type Scope = typeof SCOPES[number]

/** What each scope allows, in words, for CLI output and (later) consent pages. */
export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  'mcp:read': 'list tools, resources and prompts, and read node status',
  'mcp:call': 'call tools',
  'mcp:resources': 'read and subscribe to resources',
  'mcp:admin': 'administer the node: clients, peers and admin tools'
}

export function isScope (s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s)
}

/** Splits a space- or comma-separated scope list; undefined entries are reported by the caller. */
export function splitScopes (text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((s) => s !== ''))]
}
