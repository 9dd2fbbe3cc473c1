export { Catalog, type HiveApi, type Caller, type ToolDefinition, type ToolContext, type ToolResult, type ResourceDefinition, type ResourceTemplateDefinition, type PromptDefinition } from './catalog.ts'
export { McpEndpoint, type McpEndpointOptions } from './endpoint.ts'
export { requiredScope } from './scopes.ts'
export { registerBuiltins, logUriFor, LOGS_LATEST_URI, NODE_INFO_URI, type BuiltinComponents, type PeerView } from './builtins.ts'
