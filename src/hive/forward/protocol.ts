import { JsonFrames, ProtocolViolation } from '../protocols/framing.ts'
import { printable } from '../../shared/text.ts'

/**
 * `/edge-hive/forward/1.0.0`: a member (A) hands an agent's request to another member (B), which
 * answers it from its own tools, under its own policy. One stream per request; each message is
 * a length-prefixed JSON frame (framing.ts).
 *
 *   A -> { forward: 1, target, caller, via_node, method?, headers?, uri? }
 *   A -> { data: <base64> } ...  { end: true }            the request body, in frames
 *   B <- { status, headers }  |  { refused, message }       the answer's head, or why not
 *   B <- { data } | { ping: true } ...  { end: true }       the answer's body as it comes
 *
 * `target` is `mcp` (B's MCP endpoint: `method` and `headers` of the HTTP request), `tool` (the
 * body is `{ name, arguments }`), `resource` (`uri`) or `info` (B's info document).
 * `caller` is who A verified: `{ client_id, scopes, expires_at, token }`, where `token` is a
 * digest of the access token's id (`jti`) that tells B's sessions one token from the next; the
 * token itself never leaves A (a member is not handed credentials it could replay). `via_node`
 * must be A's own node id (derived from the key A proved on the connection), or B refuses. `mcp:admin`
 * never crosses. B sends `{ ping }` while an answer stays quiet (a notification stream), so A
 * can tell a quiet stream from a member that went away.
 */
export const FORWARD_PROTOCOL = '/edge-hive/forward/1.0.0'
/** Request headers of the MCP transport that cross the hop; the rest (cookies, Authorization) stay with A. */
export const REQUEST_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name'] as const
/** Answer headers that cross back. */
export const RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control', 'retry-after', 'edge-hive-required-scope'] as const
/** Bytes of body in one frame (the frame limit is 64 KiB, and base64 adds a third). */
const CHUNK_BYTES = 32 * 1024
const MAX_SCOPES = 8

export type ForwardTarget = 'mcp' | 'tool' | 'resource' | 'info'
const TARGETS = new Set<string>(['mcp', 'tool', 'resource', 'info'])
const METHODS = new Set(['GET', 'POST', 'DELETE'])

/** The caller as the member it came through verified it. */
export interface ForwardedCaller {
  clientId: string
  scopes: string[]
  /** Unix seconds: the caller's token expires then, and so does what it opened here. */
  expiresAt: number
  /** A digest of the caller's token (never the token). */
  tokenRef: string
}

export interface ForwardRequest {
  target: ForwardTarget
  caller: ForwardedCaller
  /** The node id of the member the request came through. */
  viaNode: string
  method?: string | undefined
  headers?: Record<string, string> | undefined
  uri?: string | undefined
}

export interface ForwardHead {
  status: number
  headers: Record<string, string>
}

const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max

/** Picks the allowed headers, each bounded. */
export function pickHeaders (from: Headers | Record<string, unknown>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of names) {
    const v = from instanceof Headers ? from.get(n) : from[n]
    if (typeof v === 'string' && v.length <= 1024) out[n] = v
  }
  return out
}

export async function writeRequest (f: JsonFrames, r: ForwardRequest): Promise<void> {
  await f.write(requestFrame(r))
}

/** The request's head as a frame. */
export function requestFrame (r: ForwardRequest): Record<string, unknown> {
  const { caller: c } = r
  return {
    forward: 1,
    target: r.target,
    caller: { client_id: c.clientId, scopes: c.scopes.filter((s) => s !== 'mcp:admin'), expires_at: c.expiresAt, token: c.tokenRef },
    via_node: r.viaNode,
    ...(r.method === undefined ? {} : { method: r.method }),
    ...(r.headers === undefined ? {} : { headers: r.headers }),
    ...(r.uri === undefined ? {} : { uri: r.uri })
  }
}

/** A body as frames: its bytes in pieces that fit a frame. */
export function dataFrames (bytes: Uint8Array | undefined): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  if (bytes !== undefined) for (let i = 0; i < bytes.length; i += CHUNK_BYTES) out.push({ data: Buffer.from(bytes.subarray(i, i + CHUNK_BYTES)).toString('base64') })
  return out
}

/** Reads and checks a request head; a malformed one is the sending member's fault. */
export async function readRequest (f: JsonFrames): Promise<ForwardRequest> {
  const m = await f.read()
  const c = m.caller as Record<string, unknown> | undefined
  if (m.forward !== 1) throw new ProtocolViolation('a forward request of an unknown version')
  if (typeof m.target !== 'string' || !TARGETS.has(m.target)) throw new ProtocolViolation('a forward request for an unknown target')
  if (c === undefined || c === null || typeof c !== 'object' || !isText(c.client_id, 256) || !isText(c.token, 128) ||
    !Array.isArray(c.scopes) || c.scopes.length > MAX_SCOPES || !c.scopes.every((s) => isText(s, 64)) ||
    typeof c.expires_at !== 'number' || !Number.isSafeInteger(c.expires_at)) throw new ProtocolViolation('a forward request with a malformed caller')
  if (!isText(m.via_node, 128)) throw new ProtocolViolation('a forward request without the member it came through')
  if (m.method !== undefined && (typeof m.method !== 'string' || !METHODS.has(m.method))) throw new ProtocolViolation('a forward request with an unknown HTTP method')
  if (m.uri !== undefined && !isText(m.uri, 2048)) throw new ProtocolViolation('a forward request with a malformed URI')
  const headers = m.headers === undefined ? undefined : m.headers !== null && typeof m.headers === 'object' ? pickHeaders(m.headers as Record<string, unknown>, REQUEST_HEADERS) : undefined
  return {
    target: m.target as ForwardTarget,
    caller: { clientId: c.client_id, scopes: (c.scopes as string[]).filter((s) => s !== 'mcp:admin'), expiresAt: c.expires_at, tokenRef: c.token },
    viaNode: m.via_node,
    method: m.method as string | undefined,
    headers,
    uri: m.uri as string | undefined
  }
}

/** Writes bytes of a body, in as many frames as they need. */
export async function writeData (f: JsonFrames, bytes: Uint8Array): Promise<void> {
  await f.writeAll(dataFrames(bytes))
}

/** Writes a whole body and the end mark. */
export async function writeBody (f: JsonFrames, body: Uint8Array | undefined): Promise<void> {
  if (body !== undefined) await writeData(f, body)
  await f.write({ end: true })
}

/** One frame of a body: bytes, a keep-alive (empty), or the end (undefined). */
export async function readChunk (f: JsonFrames, timeoutMs?: number): Promise<Uint8Array | undefined> {
  const m = await f.read(timeoutMs)
  if (m.end === true) return undefined
  if (m.ping === true) return new Uint8Array(0)
  if (typeof m.error === 'string') throw new ProtocolViolation(`the member's answer broke off: ${m.error.slice(0, 200)}`)
  if (typeof m.data !== 'string') throw new ProtocolViolation('a malformed body frame')
  return Buffer.from(m.data, 'base64')
}

/** Reads a whole body of at most `max` bytes. */
export async function readBody (f: JsonFrames, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  for (;;) {
    const chunk = await readChunk(f)
    if (chunk === undefined) return Buffer.concat(parts)
    size += chunk.length
    if (size > max) throw new BodyTooLarge(max)
    parts.push(chunk)
  }
}

export class BodyTooLarge extends Error {
  constructor (max: number) {
    super(`the request body is larger than the ${max} bytes this member accepts`)
  }
}

/** Reads the answer's head: the status and headers, or the member's refusal. */
export async function readHead (f: JsonFrames, timeoutMs: number): Promise<ForwardHead | { refused: string, message: string }> {
  const m = await f.read(timeoutMs)
  if (typeof m.refused === 'string') return { refused: m.refused.slice(0, 64), message: printable(typeof m.message === 'string' ? m.message : m.refused, 500) }
  if (typeof m.status !== 'number' || !Number.isInteger(m.status) || m.status < 100 || m.status > 599) throw new ProtocolViolation('a forward answer without a status')
  const headers = m.headers !== null && typeof m.headers === 'object' ? pickHeaders(m.headers as Record<string, unknown>, RESPONSE_HEADERS) : {}
  return { status: m.status, headers }
}
