import { ResourceTemplate, completable, type McpServer, type ServerContext } from '@modelcontextprotocol/server'
import { messageOf } from '../shared/errors.ts'
import { DEFAULT_TOOL_SCOPE, type Catalog, type Caller, type PromptDefinition, type ResourceContents, type ToolContext, type ToolDefinition, type ToolResult } from './catalog.ts'
import { ScopedMcpServer } from './message-gate.ts'

/** Callbacks a session gives its server, for the subscriptions the caller makes. */
export interface SessionHooks {
  onSubscribe? (uri: string): void
  onUnsubscribe? (uri: string): void
}

export interface ServerInfo {
  name: string
  version: string
}

type RegisteredTool = ReturnType<McpServer['registerTool']>

function mayUse (caller: Caller, def: ToolDefinition): boolean {
  return caller.scopes.includes(def.scope ?? DEFAULT_TOOL_SCOPE)
}

/** The tool context for one MCP request, over the SDK's request context. */
function contextFor (caller: Caller, sdk: ServerContext | undefined): ToolContext & { logQuietly (level: string, msg: string): Promise<void> } {
  const req = sdk?.mcpReq
  const logQuietly = async (level: string, msg: string): Promise<void> => { await req?.log(level as never, msg)?.catch(() => undefined) }
  return {
    caller,
    logQuietly,
    log: logQuietly,
    progress: async (progress, total, message) => {
      const token = req?._meta?.progressToken
      if (token === undefined || req === undefined) return
      await req.notify({ method: 'notifications/progress', params: { progressToken: token, progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) } })
    },
    sample: async (params) => {
      if (req === undefined) throw new Error('sampling needs an MCP client')
      // On this call's own stream: without relatedRequestId the SDK uses the session's GET
      // stream, and a request sent before the client opened it is never delivered.
      return await req.requestSampling(params, { relatedRequestId: req.id }) as Awaited<ReturnType<ToolContext['sample']>>
    },
    elicit: async (params) => {
      if (req === undefined) throw new Error('elicitation needs an MCP client')
      return await req.elicitInput(params, { relatedRequestId: req.id })
    }
  }
}

/** The SDK's shape of resource contents, text or blob. */
function contentsOf (uri: string, c: ResourceContents, mimeType: string): { uri: string, mimeType: string, text: string } | { uri: string, mimeType: string, blob: string } {
  return 'blob' in c ? { uri, mimeType: c.mimeType ?? mimeType, blob: c.blob } : { uri, mimeType: c.mimeType ?? mimeType, text: c.text }
}

// completable() marks the schema object itself and refuses to mark it twice, so each prompt's
// schema is wrapped once, not once per session.
const wrappedArgs = new WeakMap<PromptDefinition, PromptDefinition['argsSchema']>()

/** A prompt's argument schema, with the arguments that have a completer made completable. */
function promptArgs (p: PromptDefinition): PromptDefinition['argsSchema'] {
  if (p.argsSchema === undefined || p.complete === undefined) return p.argsSchema
  let schema = wrappedArgs.get(p)
  if (schema === undefined) {
    const shape = p.argsSchema.shape as Record<string, never>
    const wrapped = Object.fromEntries(Object.entries(p.complete).filter(([k]) => k in shape).map(([k, fn]) => [k, completable(shape[k] as never, fn as never)]))
    schema = p.argsSchema.extend(wrapped as never)
    wrappedArgs.set(p, schema)
  }
  return schema
}

/**
 * Runs a tool; a tool that throws becomes an `isError` result and the node keeps serving. A
 * call is not announced with log notifications of its own ("calling", "done"): a 2025 session
 * that set no log level gets every level, so each call would carry two more messages that say
 * nothing its result does not. Tools log what is worth saying; a failure is logged.
 */
async function runTool (catalog: Catalog, def: ToolDefinition, args: Record<string, unknown>, ctx: ReturnType<typeof contextFor>): Promise<ToolResult> {
  try {
    const result = await def.handler(args, ctx)
    catalog.reportCall(def.name, result.isError === true ? 'error' : 'ok')
    return result
  } catch (err) {
    catalog.reportCall(def.name, 'error')
    await ctx.logQuietly('error', `${def.name} failed: ${messageOf(err)}`)
    return { isError: true, content: [{ type: 'text', text: `${def.name} failed: ${messageOf(err)}` }] }
  }
}

// The JSON Schema of each tool's output schema, worked out once: the SDK converts it on a
// registered tool's first call, and a per-request server (the 2026 era) has only first calls.
const outputSchemaJson = new WeakMap<ToolDefinition, RegisteredTool['outputSchemaJson']>()

/**
 * Builds one MCP server for one caller: it shows only the tools the caller's scopes allow
 * (`tools/list` is per caller), and, for a session, follows the catalog as tools come and go
 * (the SDK then sends `notifications/tools/list_changed`).
 */
export function buildMcpServer (info: ServerInfo, catalog: Catalog, caller: Caller, hooks: SessionHooks = {}, follow = false): { server: McpServer, dispose (): void } {
  // Every message is checked against the caller's scopes where the server handles it.
  const server: McpServer = new ScopedMcpServer(
    { name: info.name, version: info.version },
    {
      capabilities: {
        logging: {},
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: {}
      },
      instructions: `Edge Hive node ${catalog.node.name} (${catalog.node.nodeId}).`
    },
    caller, catalog
  )
  const registered = new Map<string, RegisteredTool>()
  const addTool = (def: ToolDefinition): void => {
    if (!mayUse(caller, def) || registered.has(def.name)) return
    const config = {
      ...(def.title === undefined ? {} : { title: def.title }),
      description: def.description,
      ...(def.inputSchema === undefined ? {} : { inputSchema: def.inputSchema }),
      ...(def.outputSchema === undefined ? {} : { outputSchema: def.outputSchema })
    }
    const tool = server.registerTool(def.name, config as never, (async (...params: unknown[]) => {
      // The SDK passes (args, ctx) with an input schema and (ctx) without one.
      const args = (def.inputSchema === undefined ? {} : params[0]) as Record<string, unknown>
      const sdk = params[def.inputSchema === undefined ? 0 : 1] as ServerContext | undefined
      return await runTool(catalog, def, args, contextFor(caller, sdk))
    }) as never)
    if (def.outputSchema !== undefined) {
      if (outputSchemaJson.has(def)) tool.outputSchemaJson = outputSchemaJson.get(def)
      else outputSchemaJson.set(def, tool.outputSchemaJson)
    }
    registered.set(def.name, tool)
  }
  for (const def of catalog.tools.values()) addTool(def)

  for (const r of catalog.resources.values()) {
    server.registerResource(r.name, r.uri, { mimeType: r.mimeType, ...(r.description === undefined ? {} : { description: r.description }) },
      async (uri: URL) => ({ contents: [contentsOf(uri.href, await r.read(uri.href), r.mimeType)] }))
  }
  for (const t of catalog.templates.values()) {
    const list = t.list
    server.registerResource(t.name, new ResourceTemplate(t.uriTemplate, {
      list: list === undefined ? undefined : async () => ({ resources: (await list()).map((r) => ({ ...r, mimeType: t.mimeType })) }),
      ...(t.complete === undefined ? {} : { complete: t.complete })
    }), { mimeType: t.mimeType, ...(t.description === undefined ? {} : { description: t.description }) },
    async (uri: URL, variables: Record<string, string | string[]>) => {
      const vars = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]))
      return { contents: [contentsOf(uri.href, await t.read(uri.href, vars), t.mimeType)] }
    })
  }
  for (const p of catalog.prompts.values()) {
    const argsSchema = promptArgs(p)
    server.registerPrompt(p.name, { description: p.description, ...(argsSchema === undefined ? {} : { argsSchema }) } as never,
      (async (args: Record<string, unknown>) => await p.get(args ?? {})) as never)
  }

  // Subscriptions (2025 sessions); the 2026 era subscribes with subscriptions/listen instead.
  server.server.setRequestHandler('resources/subscribe', async (req) => { hooks.onSubscribe?.(req.params.uri); return {} })
  server.server.setRequestHandler('resources/unsubscribe', async (req) => { hooks.onUnsubscribe?.(req.params.uri); return {} })

  const onToolsChanged = (): void => {
    for (const def of catalog.tools.values()) addTool(def)
    for (const [name, tool] of registered) {
      if (!catalog.tools.has(name)) { tool.remove(); registered.delete(name) }
    }
  }
  // Only a session outlives its request; a per-request server must not hold a listener.
  if (follow) catalog.on('toolsChanged', onToolsChanged)
  return { server, dispose: () => { catalog.off('toolsChanged', onToolsChanged) } }
}
