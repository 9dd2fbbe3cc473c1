// The MCP workload, the same for the node and for the reference server: `tools/call get_status`
// as the official SDK client v2 sends it (requests captured from @modelcontextprotocol/client
// 2.4.0), in both protocol eras.
//  - 2025-11-25 session mode: each simulated client first opens its own session (initialize,
//    notifications/initialized), then POSTs tools/call with Mcp-Session-Id; the answer is SSE.
//  - 2026-07-28 stateless mode: each POST is self-contained (protocol version, client info and
//    capabilities in `_meta`, the Mcp-Method / Mcp-Name headers); the answer is JSON.
// Every request gets a fresh JSON-RPC id; an answer without structuredContent counts as an error.
import { request } from './node.ts'
import { load, type LoadResult, type LoadSpec } from './load.ts'

export type Mode = 'session' | 'stateless'
export const MODES: Mode[] = ['session', 'stateless']
export const MODE_VERSION: Record<Mode, string> = { session: '2025-11-25', stateless: '2026-07-28' }

const CLIENT_INFO = { name: 'edge-hive-bench', version: '1.0.0' }
/** autocannon replaces `[<id>]` with a new id for each request. */
const ID = '[<id>]'

export function callBody (mode: Mode): string {
  const params = mode === 'session'
    ? { name: 'get_status', arguments: {} }
    : {
        name: 'get_status',
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODE_VERSION.stateless,
          'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
          'io.modelcontextprotocol/clientCapabilities': {}
        }
      }
  return JSON.stringify({ method: 'tools/call', params, jsonrpc: '2.0', id: ID })
}

export function callHeaders (mode: Mode, token: string | undefined): Record<string, string> {
  return {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-protocol-version': MODE_VERSION[mode],
    ...(mode === 'stateless' ? { 'mcp-method': 'tools/call', 'mcp-name': 'get_status' } : {}),
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
  }
}

/** A successful tools/call answer, JSON or SSE. */
export const verifyCall = (body: string): boolean => body.includes('"structuredContent"') && !body.includes('"isError":true')

/** Opens a 2025-11-25 session as the SDK client does; returns its id. */
export async function openSession (mcpUrl: string, token: string | undefined): Promise<string> {
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', ...auth }
  const init = await request(mcpUrl, {
    method: 'POST',
    headers: base,
    body: JSON.stringify({ method: 'initialize', params: { protocolVersion: MODE_VERSION.session, capabilities: {}, clientInfo: CLIENT_INFO }, jsonrpc: '2.0', id: 0 })
  })
  const sid = init.headers['mcp-session-id']
  if (init.status !== 200 || typeof sid !== 'string') throw new Error(`initialize failed: ${init.status} ${init.body.slice(0, 300)}`)
  const done = await request(mcpUrl, {
    method: 'POST',
    headers: { ...base, 'mcp-session-id': sid, 'mcp-protocol-version': MODE_VERSION.session },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })
  })
  if (done.status !== 202) throw new Error(`notifications/initialized failed: ${done.status} ${done.body.slice(0, 300)}`)
  return sid
}

export async function closeSession (mcpUrl: string, token: string | undefined, sid: string): Promise<void> {
  await request(mcpUrl, {
    method: 'DELETE',
    headers: { 'mcp-session-id': sid, 'mcp-protocol-version': MODE_VERSION.session, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }
  }).catch(() => undefined)
}

/** One call made by hand, checked: the benchmark must not measure a failing path. */
export async function checkCall (mcpUrl: string, token: string | undefined, mode: Mode): Promise<string> {
  const headers = callHeaders(mode, token)
  let sid: string | undefined
  if (mode === 'session') { sid = await openSession(mcpUrl, token); headers['mcp-session-id'] = sid }
  const res = await request(mcpUrl, { method: 'POST', headers, body: callBody(mode).replace(`"${ID}"`, '1') })
  if (sid !== undefined) await closeSession(mcpUrl, token, sid)
  if (res.status !== 200 || !verifyCall(res.body)) throw new Error(`tools/call get_status (${mode}) failed: ${res.status} ${res.body.slice(0, 500)}`)
  return res.body
}

export interface Timing {
  warmupS: number
  durationS: number
}

export interface McpTarget {
  mcpUrl: string
  token: string | undefined
  pid: number
}

export interface McpRow extends LoadResult {
  mode: Mode
}

/** The simulated clients' sessions on a target (2025-11-25 mode; none for stateless). */
export async function openSessions (target: McpTarget, mode: Mode, count: number): Promise<string[]> {
  await checkCall(target.mcpUrl, target.token, mode)
  if (mode !== 'session') return []
  return await Promise.all(Array.from({ length: count }, async () => await openSession(target.mcpUrl, target.token)))
}

export async function closeSessions (target: McpTarget, sessions: string[]): Promise<void> {
  await Promise.all(sessions.map(async (s) => await closeSession(target.mcpUrl, target.token, s)))
}

/** One load run of tools/call on a target: `c` clients, each with its own session in session mode. */
export async function measureCall (target: McpTarget, mode: Mode, c: number, sessions: string[], timing: Timing, more: Pick<LoadSpec, 'alsoCpuOf' | 'fineLatency'> = {}): Promise<McpRow> {
  const r = await load({
    ...more,
    url: target.mcpUrl,
    method: 'POST',
    headers: callHeaders(mode, target.token),
    body: callBody(mode),
    uniqueIds: true,
    connections: c,
    ...timing,
    verify: verifyCall,
    serverPid: target.pid,
    ...(mode === 'session' ? { headersFor: (i: number) => ({ 'mcp-session-id': sessions[i % sessions.length]! }) } : {})
  })
  return { mode, ...r }
}
