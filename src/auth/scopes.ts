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

/**
 * Each scope in words a person understands: the consent page, the OpenAPI document and the docs
 * say the same. `offline_access` (OpenID's, for refresh tokens) is asked for beside them.
 */
export const SCOPE_WORDS: Readonly<Record<Scope | 'offline_access', string>> = {
  'mcp:read': 'See this node: its status, its peers and its notifications.',
  'mcp:call': 'Run the node\'s tools (each tool may act on this machine).',
  'mcp:resources': 'Read the node\'s resources, such as its logs.',
  'mcp:admin': 'Administer the node: register apps and agents, manage the hive, connect peers.',
  offline_access: 'Stay connected: keep access after you close this page, until you revoke it.'
}

export function isScope (s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s)
}
