import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Context, type Span, type Tracer } from '@opentelemetry/api'

/**
 * Traces of MCP requests, after OpenTelemetry's MCP semantic conventions: a span per JSON-RPC
 * request named `{mcp.method.name} {target}` (the tool, prompt or resource, when there is one),
 * with `mcp.method.name`, `mcp.protocol.version`, `mcp.session.id`, `jsonrpc.request.id`,
 * `gen_ai.tool.name`, `gen_ai.operation.name` and `error.type`. The caller's trace context is read
 * from `params._meta.traceparent` (W3C Trace Context, as the conventions place it for MCP) and
 * written there when a request goes on to another member, so one call through the hive is one
 * trace. Without a tracer (no `--otel-endpoint`) nothing here runs.
 */
export interface McpTracer {
  tracer: Tracer
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

interface Message { method?: unknown, id?: unknown, params?: { name?: unknown, uri?: unknown, _meta?: Record<string, unknown> } }

function requestOf (body: unknown): Message | undefined {
  const m = body as Message | undefined
  return m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m.method === 'string' && m.id !== undefined ? m : undefined
}

/** The context a `traceparent` names, or the root when there is none (or it is malformed). */
export function contextFrom (traceparent: unknown): Context {
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return ROOT_CONTEXT
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true })
}

/** The `traceparent` of a span. */
export function traceparentOf (span: Span): string {
  const c = span.spanContext()
  return `00-${c.traceId}-${c.spanId}-0${c.traceFlags & TraceFlags.SAMPLED}`
}

/**
 * Starts the span of one MCP request (a JSON-RPC request, not a batch or notification);
 * undefined when there is no tracer or nothing to trace. `kind` is `server` where a node answers
 * and `client` where it sends the request on to a member.
 */
export function startMcpSpan (
  t: McpTracer | undefined,
  body: unknown,
  o: { kind: 'server' | 'client', parent?: Context, protocolVersion?: string | null, sessionId?: string | null, member?: string }
): Span | undefined {
  const m = t === undefined ? undefined : requestOf(body)
  if (t === undefined || m === undefined) return undefined
  // A caller picks these: a method that is not a plain MCP name, and long targets, are cut short.
  const method = /^[a-z][a-zA-Z/_]{0,63}$/.test(m.method as string) ? m.method as string : 'other'
  const p = m.params ?? {}
  const named = typeof p.name === 'string' ? p.name : typeof p.uri === 'string' ? p.uri : undefined
  const target = named?.slice(0, 128)
  const attributes: Record<string, string | number> = { 'mcp.method.name': method, 'jsonrpc.request.id': String(m.id).slice(0, 128), 'network.transport': 'tcp' }
  if (o.protocolVersion != null) attributes['mcp.protocol.version'] = o.protocolVersion
  if (o.sessionId != null) attributes['mcp.session.id'] = o.sessionId
  if (method === 'tools/call' && target !== undefined) { attributes['gen_ai.tool.name'] = target; attributes['gen_ai.operation.name'] = 'execute_tool' }
  if (method === 'resources/read' && target !== undefined) attributes['mcp.resource.uri'] = target
  if (o.member !== undefined) attributes['edge_hive.member.node_id'] = o.member
  const parent = o.parent ?? contextFrom(p._meta?.traceparent)
  return t.tracer.startSpan(target === undefined ? method : `${method} ${target}`, { kind: o.kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, attributes }, parent)
}

/** The context of a span, for a span started under it. */
export function under (span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span)
}

/** A body whose `params._meta.traceparent` is the span's, so the member's span joins the trace. */
export function withTraceparent (body: unknown, span: Span): unknown {
  const m = requestOf(body)
  // Only a body that survives being written again: an id JSON numbers cannot hold exactly, or
  // params that are not an object, go on untouched (and the member's span starts a trace of its own).
  if (m === undefined || (typeof m.id === 'number' && !Number.isSafeInteger(m.id)) ||
    (m.params !== undefined && (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params)))) return body
  const params = m.params ?? {}
  return { ...m, params: { ...params, _meta: { ...(params._meta ?? {}), traceparent: traceparentOf(span) } } }
}

/** Ends the span when the answer has been sent whole (a streamed one too), marking a failed one. */
export function endWith (span: Span | undefined, response: Response): Response {
  if (span === undefined) return response
  if (response.status >= 400) {
    span.setAttribute('error.type', String(response.status))
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  if (response.body === null) { span.end(); return response }
  let ended = false
  const end = (): void => { if (!ended) { ended = true; span.end() } }
  // A client that goes away before the end (cancel) ends the span as well.
  const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: end, cancel: end } as ConstructorParameters<typeof TransformStream<Uint8Array, Uint8Array>>[0]))
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/** Ends the span of a request that failed before any answer. */
export function endWithError (span: Span | undefined, err: unknown): void {
  if (span === undefined) return
  span.setAttribute('error.type', (err as { code?: unknown }).code !== undefined ? String((err as { code: unknown }).code) : (err as Error).name ?? 'Error')
  span.setStatus({ code: SpanStatusCode.ERROR })
  span.end()
}
