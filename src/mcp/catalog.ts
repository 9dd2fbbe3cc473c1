import { EventEmitter } from 'node:events'
import type { z } from 'zod'
import type { ContentBlock, CreateMessageRequest, CreateMessageResult, ElicitRequestFormParams, ElicitResult } from '@modelcontextprotocol/server'
import type { Scope } from '../auth/scopes.ts'

/** What calling a tool needs when the tool names no scope of its own. */
export const DEFAULT_TOOL_SCOPE: Scope = 'mcp:call'

/** Who is calling, as the verified token says. */
export interface Caller {
  clientId: string
  scopes: string[]
}

/**
 * What a tool handler may do besides returning: log to the caller (`notifications/message`),
 * report progress when the caller asked for it, and ask the caller's client to sample a model
 * or the user to answer a form (2025-11-25 sessions; elsewhere these reject).
 */
export interface ToolContext {
  caller: Caller
  log (level: 'debug' | 'info' | 'notice' | 'warning' | 'error', message: string): Promise<void>
  /** Sends `notifications/progress` if the request carried a progress token; otherwise nothing. */
  progress (progress: number, total?: number, message?: string): Promise<void>
  /** `sampling/createMessage` to the caller's client. */
  sample (params: CreateMessageRequest['params']): Promise<CreateMessageResult>
  /** `elicitation/create` (form mode) to the caller's client. */
  elicit (params: ElicitRequestFormParams): Promise<ElicitResult>
}

/** Any MCP content block: text, image, audio, embedded resource, resource link. */
export type ToolContent = ContentBlock[]

export interface ToolResult {
  content: ToolContent
  structuredContent?: Record<string, unknown>
  isError?: boolean
}

export interface ToolDefinition {
  name: string
  title?: string
  description: string
  /** The scope a caller needs to see and call the tool; `mcp:call` unless said otherwise. */
  scope?: Scope
  inputSchema?: z.ZodObject
  outputSchema?: z.ZodObject
  handler (args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>
}

/** A resource's contents: text, or binary as base64 (`blob`). */
export type ResourceContents = { text: string, mimeType?: string } | { blob: string, mimeType?: string }

/** Completion for one argument or template variable: the values that start with what was typed. */
export type Completer = (value: string, context?: { arguments?: Record<string, string> }) => string[] | Promise<string[]>

export interface ResourceDefinition {
  name: string
  uri: string
  description?: string
  mimeType: string
  read (uri: string): Promise<ResourceContents>
}

export interface ResourceTemplateDefinition {
  name: string
  /** RFC 6570 level 1, e.g. `edge-hive://logs/{date}`. */
  uriTemplate: string
  description?: string
  mimeType: string
  /** Concrete resources to list under `resources/list`. */
  list? (): Promise<Array<{ uri: string, name: string }>>
  /** Completions for template variables (`completion/complete`). */
  complete?: Record<string, Completer>
  read (uri: string, variables: Record<string, string>): Promise<ResourceContents>
}

export interface PromptDefinition {
  name: string
  description: string
  argsSchema?: z.ZodObject
  /** Completions for arguments (`completion/complete`), by argument name. */
  complete?: Record<string, Completer>
  get (args: Record<string, unknown>): Promise<{ messages: Array<{ role: 'user' | 'assistant', content: ContentBlock }> }>
}

/**
 * The API a plugin's `register(hive)` gets, and the one the built-in tools use: add tools,
 * resources, resource templates and prompts; remove tools at run time.
 */
export interface HiveApi {
  readonly node: { nodeId: string, name: string }
  tool (def: ToolDefinition): void
  removeTool (name: string): boolean
  resource (def: ResourceDefinition): void
  resourceTemplate (def: ResourceTemplateDefinition): void
  prompt (def: PromptDefinition): void
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/
const MAX_ENTRIES = 1000

/** The node's MCP offering. Emits `toolsChanged` when tools come or go. */
export class Catalog extends EventEmitter implements HiveApi {
  readonly node: { nodeId: string, name: string }
  readonly tools = new Map<string, ToolDefinition>()
  readonly resources = new Map<string, ResourceDefinition>()
  readonly templates = new Map<string, ResourceTemplateDefinition>()
  readonly prompts = new Map<string, PromptDefinition>()

  constructor (node: { nodeId: string, name: string }) {
    super()
    this.node = node
  }

  #check (kind: string, name: string, map: Map<string, unknown>): void {
    if (!NAME.test(name)) throw new Error(`${kind} name ${JSON.stringify(name)} must be 1 to 64 letters, digits, _ . or -`)
    if (map.has(name)) throw new Error(`a ${kind} named ${name} exists already`)
    if (map.size >= MAX_ENTRIES) throw new Error(`too many ${kind}s (at most ${MAX_ENTRIES})`)
  }

  /** A tool ran (over MCP or REST): `called` events feed the node's metrics. */
  reportCall (name: string, outcome: 'ok' | 'error'): void {
    this.emit('called', { name, outcome })
  }

  tool (def: ToolDefinition): void {
    this.#check('tool', def.name, this.tools)
    this.tools.set(def.name, def)
    this.emit('toolsChanged')
  }

  removeTool (name: string): boolean {
    const removed = this.tools.delete(name)
    if (removed) this.emit('toolsChanged')
    return removed
  }

  resource (def: ResourceDefinition): void {
    if (this.resources.has(def.uri)) throw new Error(`a resource at ${def.uri} exists already`)
    this.resources.set(def.uri, def)
  }

  resourceTemplate (def: ResourceTemplateDefinition): void {
    this.#check('resource template', def.name, this.templates)
    this.templates.set(def.name, def)
  }

  prompt (def: PromptDefinition): void {
    this.#check('prompt', def.name, this.prompts)
    this.prompts.set(def.name, def)
  }

  /** The scope needed to call a tool; undefined for a tool that does not exist. */
  toolScope (name: string): Scope | undefined {
    const t = this.tools.get(name)
    return t === undefined ? undefined : t.scope ?? DEFAULT_TOOL_SCOPE
  }
}
