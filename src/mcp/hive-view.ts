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
/** How long a member's tool list is kept when its advert does not change; a failed asking, a shorter time. */
const CACHE_MS = 5 * 60_000
const FAILED_MS = 30_000
/** Tool lists kept per member (one per set of scopes callers hold). */
const SCOPE_SETS_PER_MEMBER = 8
/** Tools taken from one member at most (a catalog holds at most this many). */
const MAX_TOOLS = 1000
/** Members that do not list their tools in this time (all asked at once) are left out of this listing. */
const LIST_TIMEOUT_MS = 5_000
/** How long a call through the view may take at most. */
const CALL_TIMEOUT_MS = 10 * 60_000
/** The largest answer read from a member. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024
/** How often the members' adverts are looked at for a change of tools. */
const WATCH_MS = 2_000
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/

/** A member's display name as it may appear in titles: printable, short. */
function shown (name: string): string {
  return name.replace(/[^\p{L}\p{N} ._-]/gu, '').slice(0, 64) || '?'
}

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
export async function rpcResult (response: Response, maxBytes = MAX_ANSWER_BYTES): Promise<Record<string, unknown>> {
  const text = await readCapped(response, maxBytes)
  const messages: unknown[] = (response.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => { try { return JSON.parse(l.slice(5)) as unknown } catch { return undefined } })
    : [(() => { try { return JSON.parse(text) as unknown } catch { return undefined } })()]
  const answer = messages.find((m): m is { result?: Record<string, unknown>, error?: { code: number, message: string, data?: unknown } } =>
    m !== null && typeof m === 'object' && ('result' in m || 'error' in m))
  if (answer?.error !== undefined) throw new ProtocolError(answer.error.code, answer.error.message, answer.error.data)
  if (answer?.result === undefined) throw new ProtocolError(-32603, `The member answered ${response.status} without a result.`)
  return answer.result
}

async function readCapped (response: Response, max: number): Promise<string> {
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const parts: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.length
    if (size > max) { await reader.cancel(); throw new ProtocolError(-32603, `The member's answer is larger than the ${max} bytes the hive view takes.`) }
    parts.push(value)
  }
  return Buffer.concat(parts).toString('utf8')
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
  /** Per member: its tool lists by the scopes they were asked with, and the advert they match; an asking under way is shared. */
  readonly #cache = new Map<string, Map<string, { at: number, ttl: number, tools: Promise<Tool[]> }>>()
  /** Per member: each view name of its tools, and the tool it stands for (names cut short cannot be read back). */
  readonly #names = new Map<string, Map<string, string>>()
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
    // The token of each request (a 2025 session follows its client's newer tokens), not the session's first.
    server.server.setRequestHandler('tools/list', async (_req, ctx) => {
      const auth = ctx.http?.authInfo ?? authInfo
      return { tools: auth === undefined ? [] : await this.list(auth) } as never
    })
    server.server.setRequestHandler('tools/call', async (req, ctx) => {
      const auth = ctx.http?.authInfo ?? authInfo
      if (auth === undefined) throw new ProtocolError(-32600, 'No caller.')
      return await this.call(req.params.name, req.params.arguments ?? {}, auth, ctx.mcpReq.signal) as never
    })
    const changed = (): void => { void server.sendToolListChanged() }
    if (follow) this.on('toolsChanged', changed)
    return { server, dispose: () => { this.off('toolsChanged', changed) } }
  }

  /** Every member's tools as this caller may see them, and the view's own. */
  async list (authInfo: AuthInfo): Promise<Tool[]> {
    const members = this.#c.members().filter((m) => (m.status === 'online' || m.status === 'self') && m.tools.length > 0)
    const present = new Set(members.map((m) => m.nodeId))
    for (const id of [...this.#cache.keys()]) if (!present.has(id)) { this.#cache.delete(id); this.#names.delete(id) }
    // Every member at once, under one deadline: a silent member costs one wait, not one each.
    const deadline = AbortSignal.timeout(LIST_TIMEOUT_MS)
    const lists = await Promise.all(members.map(async (m) => await this.#toolsOf(m, authInfo, deadline).catch(() => [] as Tool[])))
    const out: Tool[] = [findTool()]
    members.forEach((m, i) => {
      let names = this.#names.get(m.nodeId)
      if (names === undefined) this.#names.set(m.nodeId, names = new Map())
      for (const t of lists[i] ?? []) {
        const name = hiveToolName(m.nodeId, t.name)
        names.set(name, t.name)
        out.push({ ...t, name, title: `${t.title ?? t.name} (${m.nodeId})`, description: `On member ${m.nodeId} (${shown(m.name)}): ${t.description ?? t.name}` })
      }
    })
    return out
  }

  /** A member's tools as it shows them to callers with these scopes: kept, or asked for once however many listings want them. */
  async #toolsOf (m: HiveMember, authInfo: AuthInfo, deadline: AbortSignal): Promise<Tool[]> {
    let lists = this.#cache.get(m.nodeId)
    if (lists === undefined) this.#cache.set(m.nodeId, lists = new Map())
    // What a member shows depends on its tools (its advert) and on the caller's scopes.
    const key = `${m.tools.join(',')}|${[...authInfo.scopes].sort().join(' ')}`
    const hit = lists.get(key)
    if (hit !== undefined && Date.now() - hit.at < hit.ttl) return await hit.tools
    if (lists.size >= SCOPE_SETS_PER_MEMBER) lists.delete(lists.keys().next().value!)
    const entry = { at: Date.now(), ttl: CACHE_MS, tools: this.#ask(m, authInfo, deadline) }
    entry.tools.catch(() => { entry.ttl = FAILED_MS })
    lists.set(key, entry)
    return await entry.tools
  }

  async #ask (m: HiveMember, authInfo: AuthInfo, deadline: AbortSignal): Promise<Tool[]> {
    const result = await rpcResult(await this.#c.rpc(m.nodeId, { method: 'tools/list', params: {} }, authInfo, deadline))
    const tools = Array.isArray(result.tools) ? result.tools as Tool[] : []
    // Only names valid everywhere, and no more than a catalog can hold: a member cannot flood the view.
    return tools.filter((t) => typeof t?.name === 'string' && TOOL_NAME.test(t.name)).slice(0, MAX_TOOLS)
  }

  /** Runs a view tool: `hive_members` here, any other on the member it names. */
  async call (name: string, args: Record<string, unknown>, authInfo: AuthInfo, signal?: AbortSignal): Promise<Record<string, unknown>> {
    if (name === FIND) return this.#find(args)
    let target: { nodeId: string, tool: string } | undefined
    for (const [nodeId, names] of this.#names) {
      const tool = names.get(name)
      if (tool !== undefined) { target = { nodeId, tool }; break }
    }
    if (target === undefined) {
      const at = name.indexOf(SEPARATOR)
      if (at > 0) target = { nodeId: name.slice(0, at).replace(/_/g, '-'), tool: name.slice(at + SEPARATOR.length) }
    }
    if (target === undefined) throw new ProtocolError(-32602, `There is no tool ${name} in this hive; tools/list names them.`)
    const member = this.#c.members().find((m) => m.nodeId === target.nodeId)
    if (member === undefined) throw new ProtocolError(-32602, `No member of this hive has the node id ${target.nodeId} any more.`)
    if (member.status !== 'online' && member.status !== 'self') return { isError: true, content: [{ type: 'text', text: `Member ${member.nodeId} is offline; try again when it is back.` }] }
    // The caller's cancellation reaches the member; no call outlives CALL_TIMEOUT_MS.
    const ends = AbortSignal.any([...(signal === undefined ? [] : [signal]), AbortSignal.timeout(CALL_TIMEOUT_MS)])
    const result = await rpcResult(await this.#c.rpc(member.nodeId, { method: 'tools/call', params: { name: target.tool, arguments: args } }, authInfo, ends))
    if (result.resultType !== undefined && result.resultType !== 'complete') {
      return {
        isError: true,
        content: [{ type: 'text', text: `Member ${member.nodeId} asks for more input, which the hive view cannot pass on; call the tool through /mcp/node/${member.nodeId}/mcp.` }]
      }
    }
    // The member's protocol envelope is its own, not this view's; the tool's own metadata stays.
    const { _meta: meta, resultType: _r, ...rest } = result
    const own = Object.entries((meta ?? {}) as Record<string, unknown>).filter(([k]) => !k.startsWith('io.modelcontextprotocol/'))
    return own.length === 0 ? rest : { ...rest, _meta: Object.fromEntries(own) }
  }

  #find (args: Record<string, unknown>): Record<string, unknown> {
    const tool = typeof args.tool === 'string' ? args.tool : undefined
    const status = typeof args.status === 'string' ? args.status : undefined
    const maxCpu = typeof args.max_cpu === 'number' ? args.max_cpu : undefined
    const members = this.#c.members()
      .filter((m) => tool === undefined || m.tools.includes(tool))
      .filter((m) => status === undefined || m.status === status || (status === 'online' && m.status === 'self'))
      .filter((m) => maxCpu === undefined || (m.load?.cpu ?? 0) <= maxCpu)
      .map((m) => ({
        node_id: m.nodeId,
        name: m.name,
        status: m.status === 'self' ? 'online' : m.status,
        load: m.load ?? null,
        tools: m.tools.map((t) => ({ tool: t, name: hiveToolName(m.nodeId, t) }))
      }))
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
