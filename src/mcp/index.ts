export {
  Catalog, DEFAULT_TOOL_SCOPE, type HiveApi, type Caller, type ToolDefinition, type ToolContext, type ToolResult,
  type ResourceDefinition, type ResourceTemplateDefinition, type PromptDefinition
} from './catalog.ts'
export { McpEndpoint, EndpointQuotas, SERVED_PROTOCOL_VERSIONS, catalogSource, type McpEndpointOptions, type WatchToken, type TokenEnd, type ServerSource } from './endpoint.ts'
export { scopesForBody, EVENT_SCOPES } from './scopes.ts'
export { CallerQuota, quotaMessage } from './caller-quota.ts'
export { FORBIDDEN } from './message-gate.ts'
export { registerBuiltins, logUriFor, LOGS_LATEST_URI, NODE_INFO_URI, type BuiltinComponents, type PeerView } from './builtins.ts'
export { loadPlugins, type EdgeHivePlugin } from './plugins.ts'
export { invokeTool, readCatalogResource, type InvokeOutcome } from './invoke.ts'
export { NotificationStream, type StreamEvent } from './notification-stream.ts'
export { serveHiveCall, parseHiveToken, watchHiveToken, type HiveCall, type HiveEntryComponents } from './hive-entry.ts'
export { HiveView, hiveToolName, type HiveMember } from './hive-view.ts'
export { startMcpSpan, withTraceparent, endWith, endWithError, under, type McpTracer } from './tracing.ts'
