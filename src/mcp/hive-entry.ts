import type { AuthInfo } from '@modelcontextprotocol/server'
import type { Catalog, Caller } from './catalog.ts'
import { invokeTool, readCatalogResource } from './invoke.ts'
import { scopesForBody } from './scopes.ts'
import { FORBIDDEN } from './message-gate.ts'
import { endWith, endWithError, startMcpSpan, type McpTracer } from './tracing.ts'
import { ERROR_CODES, errorBody, type ErrorCode } from '../shared/error-codes.ts'

/**
 * A request another member forwarded here (the hive's forward protocol), as the MCP part needs
 * it: what to answer, and who asks. `scopes` are the caller's own (as its node verified them);
 * `granted` what this node lets a hive caller use of them.
 */
export interface HiveCall {
  target: 'mcp' | 'tool' | 'resource' | 'info'
  method?: string | undefined
  headers?: Record<string, string> | undefined
  uri?: string | undefined
  body: Uint8Array
  caller: { clientId: string, scopes: string[], expiresAt: number, tokenRef: string }
  viaNode: string
  viaPeer: string
  granted: string[]
}

export interface HiveEntryComponents {
  catalog: Catalog
  /** The node's MCP endpoint (undefined with --no-mcp). */
  handle: ((request: Request, parsedBody: unknown, authInfo: AuthInfo) => Promise<Response>) | undefined
  info (): unknown
  /** The node's MCP URL, the resource its callers use. */
  mcpUrl (): string
  /** Traces requests when the node has a tracer (`--otel-endpoint`). */
  tracer?: McpTracer | undefined
}

/**
 * What a hive caller's sessions and streams on this node live by, in place of a token this node
 * could check: the member it came through, the caller's token expiry and a digest of that token.
 * `hive:` never starts a JWT, so the two cannot be confused.
 */
const HIVE_TOKEN = /^hive:([1-9A-HJ-NP-Za-km-z]{1,128}):(\d{1,12}):([A-Za-z0-9_-]{1,128})$/

export function hiveToken (call: HiveCall): string {
  return `hive:${call.viaPeer}:${call.caller.expiresAt}:${call.caller.tokenRef}`
}

/** The member and expiry of a hive caller's token; undefined for any other token. */
export function parseHiveToken (token: string): { viaPeer: string, expiresAt: number } | undefined {
  const m = HIVE_TOKEN.exec(token)
  return m === null ? undefined : { viaPeer: m[1]!, expiresAt: Number(m[2]) }
}

/** How a hive caller is named here: its client, at the member it came through. */
export function hiveClientId (call: Pick<HiveCall, 'caller' | 'viaNode'>): string {
  return `${call.caller.clientId}@${call.viaNode}`
}

function rpcError (status: number, code: number, message: string, headers: Record<string, string> = {}, data?: unknown): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message, ...(data === undefined ? {} : { data }) }, id: null }, { status, headers })
}

function restError (error: ErrorCode, message?: string, headers: Record<string, string> = {}): Response {
  return Response.json(errorBody(error, message), { status: ERROR_CODES[error].status, headers })
}

/**
 * Which of `needed` the call may not use, and why: missing from the caller's own token (the
 * caller can ask its node for a wider token: `edge-hive-required-scope` lets its node say so in
 * an OAuth challenge), or held but not granted to hive callers here (only this node's operator
 * can change that).
 */
function refusal (call: HiveCall, needed: string[], node: string): { own: string[], policy: string[], message: string } | undefined {
  if (needed.includes('mcp:admin')) return { own: [], policy: ['mcp:admin'], message: `Forbidden: this needs mcp:admin, which never crosses the hive; administer member ${node} directly.` }
  const own = needed.filter((s) => !call.caller.scopes.includes(s))
  const policy = needed.filter((s) => call.caller.scopes.includes(s) && !call.granted.includes(s))
  if (own.length === 0 && policy.length === 0) return undefined
  const message = own.length > 0
    ? `Forbidden: this needs the ${own.join(' ')} scope, which the token does not carry.`
    : `Forbidden: member ${node} lets callers from the hive use at most ${call.granted.join(' ') || 'no scope'}; this needs ${policy.join(' ')}. Its operator can allow more (--hive-scopes).`
  return { own, policy, message }
}

/** Answers a forwarded request with this node's own tools, under the scopes it was granted. */
export async function serveHiveCall (c: HiveEntryComponents, call: HiveCall, signal: AbortSignal): Promise<Response> {
  const node = `${c.catalog.node.name} (${c.catalog.node.nodeId})`
  const caller: Caller = { clientId: hiveClientId(call), scopes: call.granted }
  const text = new TextDecoder().decode(call.body)
  switch (call.target) {
    case 'info':
      return Response.json(c.info())
    case 'resource': {
      const no = refusal(call, ['mcp:resources'], node)
      if (no !== undefined) return restError(no.own.length > 0 ? 'insufficient_scope' : 'hive_policy', no.message, no.own.length > 0 ? { 'edge-hive-required-scope': no.own.join(' ') } : {})
      const contents = await readCatalogResource(c.catalog, call.uri ?? '').catch((err: unknown) => ({ error: String((err as Error).message) }))
      if (contents === undefined) return restError('unknown_resource', `There is no resource ${call.uri ?? ''} on member ${node}.`)
      if ('error' in contents) return restError('invalid_resource', contents.error)
      return new Response(contents.body, { headers: { 'content-type': contents.mimeType } })
    }
    case 'tool': {
      let input: { name?: unknown, arguments?: unknown }
      try { input = JSON.parse(text) as typeof input } catch { return restError('malformed_json') }
      const name = typeof input.name === 'string' ? input.name : ''
      const needed = c.catalog.toolScope(name)
      const no = needed === undefined ? undefined : refusal(call, [needed], node)
      if (no !== undefined) return restError(no.own.length > 0 ? 'insufficient_scope' : 'hive_policy', no.message, no.own.length > 0 ? { 'edge-hive-required-scope': no.own.join(' ') } : {})
      const outcome = await invokeTool(c.catalog, name, input.arguments ?? {}, caller)
      if (outcome.ok) return Response.json(outcome.result)
      return restError(outcome.code, outcome.message)
    }
    case 'mcp': {
      if (c.handle === undefined) return rpcError(404, -32601, `Member ${node} does not serve MCP (it runs with --no-mcp).`)
      let parsed: unknown
      if (text.trim() !== '') {
        try { parsed = JSON.parse(text) } catch { return rpcError(400, -32700, 'Parse error: the body is not valid JSON.') }
      }
      if (call.method === 'POST') {
        const no = refusal(call, scopesForBody(parsed, c.catalog), node)
        if (no !== undefined) {
          return rpcError(403, FORBIDDEN, no.message, no.own.length > 0 ? { 'edge-hive-required-scope': no.own.join(' ') } : {}, { required_scope: [...no.own, ...no.policy].join(' ') })
        }
      }
      const authInfo: AuthInfo = { token: hiveToken(call), clientId: caller.clientId, scopes: call.granted, expiresAt: call.caller.expiresAt, resource: new URL(c.mcpUrl()) }
      const request = new Request(c.mcpUrl(), {
        method: call.method ?? 'POST',
        headers: call.headers ?? {},
        ...(call.method === 'GET' || call.method === 'DELETE' ? {} : { body: text }),
        signal
      })
      // The caller's trace goes on here: the member it came through put its span in params._meta.
      const span = call.method === 'POST'
        ? startMcpSpan(c.tracer, parsed, { kind: 'server', protocolVersion: call.headers?.['mcp-protocol-version'], sessionId: call.headers?.['mcp-session-id'], member: call.viaNode })
        : undefined
      return endWith(span, await c.handle(request, parsed, authInfo).catch((err: unknown) => { endWithError(span, err); throw err }))
    }
  }
}

/** The longest a timer may wait (setTimeout's limit); a longer wait is taken in steps. */
const MAX_TIMER_MS = 2_147_483_647

/**
 * Ends what a hive caller opened here (a session) when its token expires, or at once when the
 * member it came through is removed from the hive, or this node is (`onRemoved` names removed
 * peers, `*` for this node). Streams open through the hive are cut by the hive itself then.
 */
export function watchHiveToken (token: { viaPeer: string, expiresAt: number }, onEnd: (why: 'expired' | 'revoked') => void,
  onRemoved: (listener: (peerId: string) => void) => () => void): () => void {
  let timer: NodeJS.Timeout | undefined
  let ended = false
  const end = (why: 'expired' | 'revoked'): void => {
    if (ended) return
    ended = true
    stop()
    onEnd(why)
  }
  const arm = (): void => {
    const left = token.expiresAt * 1000 - Date.now()
    timer = left <= 0 ? undefined : setTimeout(arm, Math.min(left, MAX_TIMER_MS)).unref()
    if (left <= 0) queueMicrotask(() => { end('expired') })
  }
  const unsubscribe = onRemoved((peer) => { if (peer === token.viaPeer || peer === '*') end('revoked') })
  const stop = (): void => { clearTimeout(timer); unsubscribe() }
  arm()
  return () => { ended = true; stop() }
}
