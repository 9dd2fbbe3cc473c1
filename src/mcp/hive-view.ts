import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { ProtocolError, type AuthInfo, type McpServer } from '@modelcontextprotocol/server'
import type { ServerSource } from './endpoint.ts'
import type { ServerInfo, SessionHooks } from './server-factory.ts'
import { ScopedMcpServer } from './message-gate.ts'

/** A member as the hive view sees it: from its advert (this node among them). */
export interface HiveMember {
  nodeId: string
  name: string
  status: 'self' | 'online' | 'offline' | 'untrusted'
  /** The tools its advert says it offers. */
  tools: string[]
  load?: Record<string, number> | undefined
}

export interface HiveViewComponents {
  members (): HiveMember[]
  /**
   * Sends one JSON-RPC request to a member's MCP endpoint (this node's own for its own id), as
   * the caller, and gives back the HTTP answer.
   */
  rpc (nodeId: string, message: { method: string, params: Record<string, unknown> }, authInfo: AuthInfo, signal: AbortSignal): Promise<Response>
}

interface Tool { name: string, title?: string, description?: string, inputSchema?: unknown, outputSchema?: unknown, annotations?: unknown }

/** The view's own tool: find members by what they offer. */
const FIND = 'hive_members'
const SEPARATOR = '__'
const MAX_NAME = 64
/** How long a member's tool list is kept when its advert does not change. */
const CACHE_MS = 5 * 60_000
const MAX_CACHED = 512
/** A member that does not list its tools in this time is left out of this listing. */
const LIST_TIMEOUT_MS = 5_000
/** Members asked at once when a listing needs several. */
const LIST_CONCURRENCY = 8
/** How often the members' adverts are looked at for a change of tools. */
const WATCH_MS = 2_000

/**
 * The name of a member's tool in the hive view: `<node id with _>__<tool>`. It depends on the
 * member's node id and the tool's own name only, so it does not change when other members come
 * and go. It keeps to letters, digits, `_`, `-` and `.` within 64 characters (SEP-986), with the
 * node id's `-` written `_`, the one character every client takes; a name that would be longer is
 * cut and ends in a short digest of the whole, still the same every time.
 */
export function hiveToolName (nodeId: string, tool: string): string {
  const name = `${nodeId.replace(/-/g, '_')}${SEPARATOR}${tool}`
  if (name.length <= MAX_NAME) return name
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 8)
  return `${name.slice(0, MAX_NAME - 9)}_${digest}`
}

/** The JSON-RPC result in an MCP answer, JSON or an SSE stream; throws its error as the SDK's. */
export async function rpcResult (response: Response): Promise<Record<string, unknown>> {
  const text = await response.text()
  const messages: unknown[] = (response.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => { try { return JSON.parse(l.slice(5)) as unknown } catch { return undefined } })
    : [(() => { try { return JSON.parse(text) as unknown } catch { return undefined } })()]
  const answer = messages.find((m): m is { result?: Record<string, unknown>, error?: { code: number, message: string, data?: unknown } } =>
    m !== null && typeof m === 'object' && ('result' in m || 'error' in m))
  if (answer?.error !== undefined) throw new ProtocolError(answer.error.code, answer.error.message, answer.error.data)
  if (answer?.result === undefined) throw new ProtocolError(-32603, `The member answered ${response.status} without a result.`)
  return answer.result
}

/**
 * The hive view: one MCP endpoint that offers the tools of every member of the hive, this node's
 * included, under names that stay the same as members come and go (`hiveToolName`), and
 * `hive_members` to find members by what they offer, their status and load. A call to a member's
 * tool goes to that member as `/mcp/node/{id}/mcp` does, under that member's policy. Which tools a
 * member offers comes from its advert: its tool list (descriptions and schemas, as it shows them
 * to this caller) is asked for once and kept until the advert changes, not on every `tools/list`.
 * `notifications/tools/list_changed` goes out when members' tools change.
 */
export class HiveView extends EventEmitter<{ toolsChanged: [] }> implements ServerSource {
  readonly #c: HiveViewComponents
  readonly #info: ServerInfo
  readonly #cache = new Map<string, { at: number, tools: Tool[] }>()
  /** Every view name handed out, and the member and tool it stands for (names cut short cannot be read back). */
  readonly #names = new Map<string, { nodeId: string, tool: string }>()
  readonly #timer: NodeJS.Timeout
  #digest = ''

  constructor (c: HiveViewComponents, info: ServerInfo) {
    super()
    this.setMaxListeners(0)
    this.#c = c
    this.#info = info
    this.#timer = setInterval(() => { this.#watch() }, WATCH_MS).unref()
    this.#watch()
  }

  close (): void {
    clearInterval(this.#timer)
  }

  /**
   * What calling a view tool needs at this door: `hive_members` reads, any other tool calls (the
   * member then applies its own policy). The MCP front and each server's gate read it.
   */
  toolScope (name: string): 'mcp:read' | 'mcp:call' {
    return name === FIND ? 'mcp:read' : 'mcp:call'
  }

  onToolsChanged (listener: () => void): void {
    this.on('toolsChanged', listener)
  }

  #watch (): void {
    const digest = JSON.stringify(this.#c.members().filter((m) => m.status === 'online' || m.status === 'self').map((m) => [m.nodeId, m.tools]).sort())
    if (digest === this.#digest) return
    const first = this.#digest === ''
    this.#digest = digest
    if (!first) this.emit('toolsChanged')
  }

  build (authInfo: AuthInfo | undefined, _hooks: SessionHooks, follow: boolean): { server: McpServer, dispose (): void } {
    const server: McpServer = new ScopedMcpServer({ name: this.#info.name, version: this.#info.version }, {
      capabilities: { tools: { listChanged: true } },
      instructions: 'The tools of every member of this Edge Hive, each named <member node id>__<tool>. hive_members finds members by the tools they offer, their status and load.'
    }, { clientId: authInfo?.clientId ?? 'anonymous', scopes: authInfo?.scopes ?? [] }, this)
    server.server.setRequestHandler('tools/list', async () => ({ tools: authInfo === undefined ? [] : await this.list(authInfo) }) as never)
    server.server.setRequestHandler('tools/call', async (req) => {
      if (authInfo === undefined) throw new ProtocolError(-32600, 'No caller.')
      return await this.call(req.params.name, req.params.arguments ?? {}, authInfo) as never
    })
    const changed = (): void => { void server.sendToolListChanged() }
    if (follow) this.on('toolsChanged', changed)
    return { server, dispose: () => { this.off('toolsChanged', changed) } }
  }

  /** Every member's tools as this caller may see them, and the view's own. */
  async list (authInfo: AuthInfo): Promise<Tool[]> {
    const members = this.#c.members().filter((m) => (m.status === 'online' || m.status === 'self') && m.tools.length > 0)
    const lists: Tool[][] = []
    for (let i = 0; i < members.length; i += LIST_CONCURRENCY) {
      lists.push(...await Promise.all(members.slice(i, i + LIST_CONCURRENCY).map(async (m) => await this.#toolsOf(m, authInfo).catch(() => []))))
    }
    const out: Tool[] = [findTool()]
    members.forEach((m, i) => {
      for (const t of lists[i] ?? []) {
        const name = hiveToolName(m.nodeId, t.name)
        if (this.#names.size < 100_000) this.#names.set(name, { nodeId: m.nodeId, tool: t.name })
        out.push({ ...t, name, title: `${t.title ?? t.name} (${m.name})`, description: `On member ${m.name} (${m.nodeId}): ${t.description ?? t.name}` })
      }
    })
    return out
  }

  async #toolsOf (m: HiveMember, authInfo: AuthInfo): Promise<Tool[]> {
    // What a member shows depends on its tools (its advert) and on the caller's scopes.
    const key = `${m.nodeId}|${m.tools.join(',')}|${[...authInfo.scopes].sort().join(' ')}`
    const hit = this.#cache.get(key)
    if (hit !== undefined && Date.now() - hit.at < CACHE_MS) return hit.tools
    const result = await rpcResult(await this.#c.rpc(m.nodeId, { method: 'tools/list', params: {} }, authInfo, AbortSignal.timeout(LIST_TIMEOUT_MS)))
    const tools = Array.isArray(result.tools) ? (result.tools as Tool[]).filter((t) => typeof t?.name === 'string') : []
    if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.set(key, { at: Date.now(), tools })
    return tools
  }

  /** Runs a view tool: `hive_members` here, any other on the member it names. */
  async call (name: string, args: Record<string, unknown>, authInfo: AuthInfo): Promise<Record<string, unknown>> {
    if (name === FIND) return this.#find(args)
    let target = this.#names.get(name)
    if (target === undefined) {
      const at = name.indexOf(SEPARATOR)
      if (at > 0) target = { nodeId: name.slice(0, at).replace(/_/g, '-'), tool: name.slice(at + SEPARATOR.length) }
    }
    if (target === undefined) throw new ProtocolError(-32602, `There is no tool ${name} in this hive; tools/list names them.`)
    const member = this.#c.members().find((m) => m.nodeId === target.nodeId)
    if (member === undefined) throw new ProtocolError(-32602, `No member of this hive has the node id ${target.nodeId} any more.`)
    if (member.status !== 'online' && member.status !== 'self') return { isError: true, content: [{ type: 'text', text: `Member ${member.name} (${member.nodeId}) is offline; try again when it is back.` }] }
    const result = await rpcResult(await this.#c.rpc(member.nodeId, { method: 'tools/call', params: { name: target.tool, arguments: args } }, authInfo, new AbortController().signal))
    // The member's envelope (its server info, its era's result type) is its own, not this view's.
    const { _meta: _m, resultType: _r, ...rest } = result
    return rest
  }

  #find (args: Record<string, unknown>): Record<string, unknown> {
    const tool = typeof args.tool === 'string' ? args.tool : undefined
    const status = typeof args.status === 'string' ? args.status : undefined
    const maxCpu = typeof args.max_cpu === 'number' ? args.max_cpu : undefined
    const members = this.#c.members()
      .filter((m) => tool === undefined || m.tools.includes(tool))
      .filter((m) => status === undefined || m.status === status || (status === 'online' && m.status === 'self'))
      .filter((m) => maxCpu === undefined || (m.load?.cpu ?? 0) <= maxCpu)
      .map((m) => ({ node_id: m.nodeId, name: m.name, status: m.status === 'self' ? 'online' : m.status, load: m.load ?? null, tools: m.tools.map((t) => ({ tool: t, name: hiveToolName(m.nodeId, t) })) }))
    return { content: [{ type: 'text', text: JSON.stringify({ members }) }], structuredContent: { members } }
  }
}

function findTool (): Tool {
  return {
    name: FIND,
    title: 'Find members of the hive',
    description: 'Lists the members of this hive with their status, load and tools (each with its name in this view), optionally only those that offer a tool, have a status, or whose CPU load is at most max_cpu percent.',
    inputSchema: {
      type: 'object',
      properties: {
        tool: { type: 'string', description: 'Only members that offer this tool (its own name, e.g. get_status).' },
        status: { type: 'string', enum: ['online', 'offline'], description: 'Only members with this status.' },
        max_cpu: { type: 'number', minimum: 0, maximum: 100, description: 'Only members whose CPU load is at most this many percent.' }
      },
      additionalProperties: false
    }
  }
}
