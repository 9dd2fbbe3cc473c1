/** The scopes a node grants. Each route and tool declares the one it needs. */
export const SCOPES = ['mcp:read', 'mcp:call', 'mcp:resources', 'mcp:admin'] as const
export type Scope = typeof SCOPES[number]

export function isScope (s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s)
}
