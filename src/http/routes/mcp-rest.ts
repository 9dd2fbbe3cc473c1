import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CallerQuota, DEFAULT_TOOL_SCOPE, EVENT_SCOPES, quotaMessage, type InvokeOutcome, type NotificationStream, type Caller, type StreamEvent } from '../../mcp/index.ts'
import { challenge, refuse, type BearerOptions } from '../bearer.ts'
import { HttpError } from '../errors.ts'
import { nodeIdParam, object, responses } from '../schemas.ts'
import { tiedToToken } from './mcp.ts'
import { answerFromMember, clientGone, hiveCaller, type Forwarder, type HiveRequest } from '../forwarder.ts'

export interface McpRestComponents {
  invoke (name: string, args: unknown, caller: Caller): Promise<InvokeOutcome>
  read (uri: string): Promise<{ body: string | Buffer, mimeType: string } | undefined>
  stream: NotificationStream
  /** Calls `onEnd` once when the token expires or is revoked; returns how to stop watching. */
  watchToken (token: string, onEnd: (why: 'expired' | 'revoked') => void): () => void
  /** Hands a request to another member of the hive; undefined when the node has no hive. */
  forward: Forwarder | undefined
}

export interface McpRestOptions extends BearerOptions {
  nodeId: string
  /** Streams open at once, in all and per client. */
  maxStreams: number
  maxStreamsPerClient: number
}

/** Whether a caller may be sent an event: the same table as MCP's notifications. */
function mayReceive (e: StreamEvent, scopes: string[]): boolean {
  const needed = (EVENT_SCOPES as Record<string, string | undefined>)[e.event]
  // An event kind missing from the table is sent to no one until it is given a scope.
  return needed !== undefined && scopes.includes(needed)
}

const KEEPALIVE_MS = 15_000

/** Whether the route is asked about another node than this one. */
function elsewhere (nodeId: string | undefined, own: string): nodeId is string {
  return nodeId !== undefined && nodeId !== own
}

/**
 * The REST face of the MCP tools and resources, for scripts without an MCP client:
 * the same catalog code, the same scopes.
 */
export function registerMcpRestRoutes (app: FastifyInstance, c: McpRestComponents, opts: McpRestOptions): void {
  /** The same route on another member, through the hive: its answer, under its policy, streams back. */
  const viaHive = async (req: FastifyRequest, reply: FastifyReply, member: string, request: HiveRequest): Promise<FastifyReply> => {
    if (c.forward === undefined) throw new HttpError('unknown_node', 'No node with that id is known here (this node has no hive: --no-p2p).')
    const response = await c.forward(member, request, hiveCaller(req.identity!), clientGone(reply))
    const out = answerFromMember(reply, response, opts, req.identity!)
    const token = req.headers.authorization!.slice(7)
    return out === response ? await reply.send(tiedToToken(response, false, (onEnd) => c.watchToken(token, onEnd), true)) : out as FastifyReply
  }
  const body = {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 64, description: 'The tool\'s name, as tools/list shows it.' }, arguments: { type: 'object', description: 'The tool\'s input.' } }
  } as const
  const call = {
    tags: ['tools'],
    description: 'The same tools as over MCP, with the same scopes: each tool needs its own (mcp:call unless it says otherwise).',
    body,
    response: responses(object('The MCP CallToolResult: content, structuredContent, isError.'), 400, 401, 403, 404)
  }
  const callTool = async (req: FastifyRequest<{ Params: { node_id?: string }, Body: { name: string, arguments?: Record<string, unknown> } }>, reply: FastifyReply): Promise<FastifyReply> => {
    if (elsewhere(req.params.node_id, opts.nodeId)) {
      return await viaHive(req, reply, req.params.node_id, { target: 'tool', body: Buffer.from(JSON.stringify({ name: req.body.name, arguments: req.body.arguments ?? {} })) })
    }
    const identity = req.identity!
    const outcome = await c.invoke(req.body.name, req.body.arguments ?? {}, { clientId: identity.clientId, scopes: identity.scopes })
    if (outcome.ok) return await reply.send(outcome.result)
    if (outcome.code === 'insufficient_scope') {
      return refuse(reply, 403, challenge(opts, { realm: 'edge-hive', error: 'insufficient_scope', scope: outcome.scope!, error_description: outcome.message }), 'insufficient_scope', outcome.message)
    }
    throw new HttpError(outcome.code, outcome.message)
  }
  // Most tools need the default tool scope; one that needs another says so in its 403.
  const toolScope = { challengeScope: [DEFAULT_TOOL_SCOPE] }
  app.post('/mcp/tools/call', { config: toolScope, schema: { ...call, summary: 'Call a tool' } }, callTool)
  app.post('/mcp/node/:node_id/tools/call', { config: toolScope, schema: { ...call, summary: 'Call a tool, by node id', params: nodeIdParam } }, callTool)

  app.get<{ Params: { node_id: string, uri: string } }>('/mcp/node/:node_id/resources/:uri', {
    config: { scope: 'mcp:resources' },
    schema: {
      tags: ['resources'],
      summary: 'Read a resource, its URI percent-encoded in the path',
      params: {
        type: 'object',
        required: ['node_id', 'uri'],
        properties: { node_id: nodeIdParam.properties.node_id, uri: { type: 'string', description: 'The resource URI, e.g. edge-hive%3A%2F%2Fnode%2Finfo' } }
      },
      response: responses({ description: 'The resource\'s contents, with its MIME type.' }, 400, 401, 403, 404)
    }
  }, async (req, reply) => {
    if (elsewhere(req.params.node_id, opts.nodeId)) return await viaHive(req, reply, req.params.node_id, { target: 'resource', uri: req.params.uri })
    const contents = await c.read(req.params.uri).catch((err: unknown) => { throw new HttpError('invalid_resource', String((err as Error).message)) })
    if (contents === undefined) throw new HttpError('unknown_resource', `There is no resource ${req.params.uri}.`)
    return await reply.type(contents.mimeType).send(contents.body)
  })

  const streams = new CallerQuota({ total: opts.maxStreams, perClient: opts.maxStreamsPerClient })
  app.get<{ Params: { node_id: string } }>('/mcp/node/:node_id/stream', {
    config: { scope: 'mcp:read' },
    schema: {
      tags: ['notifications'],
      summary: 'Server-sent events: log, resource_updated and peer; resume with Last-Event-ID',
      description: 'Each event goes only to tokens whose scopes allow it: log and resource_updated need mcp:resources, peer needs mcp:read. The stream ends with an `end` event when its token expires or is revoked.',
      params: nodeIdParam,
      headers: { type: 'object', properties: { 'last-event-id': { type: 'string', description: 'The id of the last event received: the missed ones are sent first.' } } },
      response: responses({ description: 'text/event-stream' }, 401, 403, 404, 429, 503)
    }
  }, async (req, reply) => {
    if (elsewhere(req.params.node_id, opts.nodeId)) {
      throw new HttpError('unknown_node', 'This stream is this node\'s own; a member\'s notifications come through its MCP endpoint here, /mcp/node/{node_id}/mcp.')
    }
    const identity = req.identity!
    const place = streams.acquire({ clientId: identity.clientId, scopes: identity.scopes })
    if (!place.ok) throw new HttpError('too_many_streams', quotaMessage(place.reason, 'streams'), { status: place.reason === 'full' ? 503 : 429 })
    const last = Number(req.headers['last-event-id'] ?? 0)
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-request-id': String(req.id), ...(req.raw.httpVersionMajor === 1 ? { connection: 'keep-alive' } : {}) })
    const send = (e: StreamEvent): void => {
      if (mayReceive(e, identity.scopes)) res.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`)
    }
    res.write(': edge-hive notifications\n\n')
    if (Number.isInteger(last) && last > 0) for (const e of c.stream.since(last)) send(e)
    const unsubscribe = c.stream.subscribe(send, () => res.end())
    // The stream lives no longer than its token: a last event says why it ends.
    const token = req.headers.authorization!.slice(7)
    const unwatch = c.watchToken(token, (why) => {
      res.end(`event: end\ndata: ${JSON.stringify({
        reason: `token_${why}`,
        message: why === 'expired' ? 'The access token expired; reconnect with a new one.' : 'The access token was revoked.'
      })}\n\n`)
    })
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
    await new Promise<void>((resolve) => res.once('close', resolve))
    clearInterval(keepalive)
    unwatch()
    unsubscribe()
    place.release()
  })
}
