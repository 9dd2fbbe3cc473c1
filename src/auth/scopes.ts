/** The scopes a node grants. Each route and tool declares the one it needs. */
export const SCOPES = ['mcp:read', 'mcp:call', 'mcp:resources', 'mcp:admin'] as const
export type Scope = typeof SCOPES[number]

/**
 * What the MCP endpoint names in its 401 challenge (MCP 2025-11-25, scope selection: a client
 * asks for what the challenge names, instead of what it was configured with): what an agent
 * uses, without administration, and `offline_access`, without which a person's app gets no
 * refresh token and sends the person back to the browser every hour (the MCP SDKs do not add it
 * themselves). A client is granted the part it was registered with (client credentials, where
 * `offline_access` means nothing) or that the operator approves at consent.
 */
export const MCP_CHALLENGE_SCOPES: readonly string[] = ['mcp:read', 'mcp:call', 'mcp:resources', 'offline_access']

export function isScope (s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s)
}
