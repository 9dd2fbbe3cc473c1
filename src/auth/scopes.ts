/** The scopes a node grants. Each route and tool declares the one it needs. */
export const SCOPES = ['mcp:read', 'mcp:call', 'mcp:resources', 'mcp:admin'] as const
export type Scope = typeof SCOPES[number]

/**
 * What the MCP endpoint names in its 401 challenge (MCP 2025-11-25, scope selection: a client
 * asks for what the challenge names): what an agent uses, without administration. A client is
 * granted the part of it it was registered with (client credentials) or the operator approves.
 */
export const MCP_CHALLENGE_SCOPES: readonly Scope[] = ['mcp:read', 'mcp:call', 'mcp:resources']

export function isScope (s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s)
}
