import { DEFAULT_TOOL_SCOPE, type Catalog, type Caller, type ResourceContents, type ToolResult } from './catalog.ts'
import { messageOf } from '../shared/errors.ts'
import { UriTemplate } from '@modelcontextprotocol/server'

interface StandardSchema {
  '~standard': {
    validate (value: unknown):
      | { value?: unknown, issues?: ReadonlyArray<{ message: string, path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> }
      | Promise<{ value?: unknown, issues?: ReadonlyArray<{ message: string, path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> }> }>
  }
}

export type InvokeOutcome =
  | { ok: true, result: ToolResult }
  | { ok: false, code: 'unknown_tool' | 'invalid_arguments' | 'insufficient_scope', message: string, scope?: string }

/**
 * Calls a catalog tool outside MCP (the REST route), with the same scope rule, argument
 * validation and error-to-result behaviour as MCP `tools/call`.
 */
export async function invokeTool (catalog: Catalog, name: string, args: unknown, caller: Caller): Promise<InvokeOutcome> {
  const def = catalog.tools.get(name)
  if (def === undefined) return { ok: false, code: 'unknown_tool', message: `There is no tool ${name}.` }
  const scope = def.scope ?? DEFAULT_TOOL_SCOPE
  if (!caller.scopes.includes(scope)) return { ok: false, code: 'insufficient_scope', message: `${name} needs the ${scope} scope.`, scope }
  let input: Record<string, unknown> = {}
  if (def.inputSchema !== undefined) {
    // Through the Standard Schema interface, as the MCP SDK does: a plugin may bring its own zod.
    const std = (def.inputSchema as unknown as StandardSchema)['~standard']
    const r = await std.validate(args ?? {})
    if (r.issues !== undefined) {
      return {
        ok: false,
        code: 'invalid_arguments',
        message: `Invalid arguments for ${name}: ${r.issues.map((i) => `${(i.path ?? []).map((p) => typeof p === 'object' ? String(p.key) : String(p)).join('.') || '(root)'}: ${i.message}`).join('; ')}`
      }
    }
    input = r.value as Record<string, unknown>
  }
  try {
    // Outside MCP there is no client to log to, report progress to, or ask.
    const noClient = async (): Promise<never> => { throw new Error('this tool needs an MCP client (it asks the client a question); call it over MCP') }
    const result = await def.handler(input, { caller, log: async () => undefined, progress: async () => undefined, sample: noClient, elicit: noClient })
    catalog.reportCall(name, result.isError === true ? 'error' : 'ok')
    return { ok: true, result }
  } catch (err) {
    catalog.reportCall(name, 'error')
    return { ok: true, result: { isError: true, content: [{ type: 'text', text: `${name} failed: ${messageOf(err)}` }] } }
  }
}

/**
 * A template's variables in a URI, matched by the SDK's own RFC 6570 matcher: the REST route
 * reads a template resource exactly as `resources/read` over MCP does (values as they are in
 * the URI, not percent-decoded).
 */
function matchTemplate (template: string, uri: string): Record<string, string> | undefined {
  const m = new UriTemplate(template).match(uri)
  if (m === null) return undefined
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]))
}

/** Reads a resource by URI from the catalog: a fixed resource, or one a template matches. */
export async function readCatalogResource (catalog: Catalog, uri: string): Promise<{ body: string | Buffer, mimeType: string } | undefined> {
  const as = (c: ResourceContents, mimeType: string): { body: string | Buffer, mimeType: string } =>
    ({ body: 'blob' in c ? Buffer.from(c.blob, 'base64') : c.text, mimeType: c.mimeType ?? mimeType })
  const fixed = catalog.resources.get(uri)
  if (fixed !== undefined) return as(await fixed.read(uri), fixed.mimeType)
  for (const t of catalog.templates.values()) {
    const vars = matchTemplate(t.uriTemplate, uri)
    if (vars === undefined) continue
    return as(await t.read(uri, vars), t.mimeType)
  }
  return undefined
}
