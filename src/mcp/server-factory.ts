import { McpServer, ResourceTemplate } from '@modelcontextprotocol/server'
import { messageOf } from '../shared/errors.ts'
import type { Catalog, Caller, ToolDefinition, ToolResult } from './catalog.ts'

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
  return caller.scopes.includes(def.scope ?? 'mcp:call')
}

/** Runs a tool; a tool that throws becomes an `isError` result and the node keeps serving. */
async function runTool (def: ToolDefinition, args: Record<string, unknown>, caller: Caller, log: (level: string, msg: string) => Promise<void>): Promise<ToolResult> {
  await log('debug', `calling ${def.name}`)
  try {
    const result = await def.handler(args, { caller, log: async (level, message) => await log(level, message) })
    await log('info', `${def.name} ${result.isError === true ? 'returned an error' : 'done'}`)
    return result
  } catch (err) {
    await log('error', `${def.name} failed: ${messageOf(err)}`)
    return { isError: true, content: [{ type: 'text', text: `${def.name} failed: ${messageOf(err)}` }] }
  }
}

/**
 * Builds one MCP server for one caller: it shows only the tools the caller's scopes allow
 * (`tools/list` is per caller), and, for a session, follows the catalog as tools come and go
 * (the SDK then sends `notifications/tools/list_changed`).
 */
export function buildMcpServer (info: ServerInfo, catalog: Catalog, caller: Caller, hooks: SessionHooks = {}, follow = false): { server: McpServer, dispose (): void } {
  const server = new McpServer(
    { name: info.name, version: info.version },
    {
      capabilities: {
        logging: {},
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: {}
      },
      instructions: `Edge Hive node ${catalog.node.name} (${catalog.node.nodeId}).`
    }
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
      const ctx = params[def.inputSchema === undefined ? 0 : 1] as { mcpReq?: { log?: (level: string, data: string) => Promise<void> } }
      const log = async (level: string, msg: string): Promise<void> => { await ctx?.mcpReq?.log?.(level, msg)?.catch(() => undefined) }
      return await runTool(def, args, caller, log)
    }) as never)
    registered.set(def.name, tool)
  }
  for (const def of catalog.tools.values()) addTool(def)

  for (const r of catalog.resources.values()) {
    server.registerResource(r.name, r.uri, { mimeType: r.mimeType, ...(r.description === undefined ? {} : { description: r.description }) },
      async (uri: URL) => {
        const c = await r.read(uri.href)
        return { contents: [{ uri: uri.href, mimeType: c.mimeType ?? r.mimeType, text: c.text }] }
      })
  }
  for (const t of catalog.templates.values()) {
    const list = t.list
    server.registerResource(t.name, new ResourceTemplate(t.uriTemplate, {
      list: list === undefined ? undefined : async () => ({ resources: (await list()).map((r) => ({ ...r, mimeType: t.mimeType })) })
    }), { mimeType: t.mimeType, ...(t.description === undefined ? {} : { description: t.description }) },
    async (uri: URL, variables: Record<string, string | string[]>) => {
      const vars = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]))
      const c = await t.read(uri.href, vars)
      return { contents: [{ uri: uri.href, mimeType: c.mimeType ?? t.mimeType, text: c.text }] }
    })
  }
  for (const p of catalog.prompts.values()) {
    server.registerPrompt(p.name, { description: p.description, ...(p.argsSchema === undefined ? {} : { argsSchema: p.argsSchema }) } as never,
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
