// The reference: a minimal MCP server built from the official SDK (@modelcontextprotocol/server
// v2) alone, with one tool equivalent to the node's get_status and no auth, served over
// node:https (TLS 1.3, the same kind of certificate as the node's, keep-alive) at /mcp.
// Both protocol eras at one URL, routed as the SDK documents it: isLegacyRequest() in front of
// a strict 2026-07-28 handler (createMcpHandler), 2025-11-25 traffic to one
// WebStandardStreamableHTTPServerTransport per session.
// usage: node reference-server.ts <cert.pem> <key.pem>   prints {"port":N} once listening
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { McpServer, WebStandardStreamableHTTPServerTransport, createMcpHandler, isInitializeRequest, isLegacyRequest } from '@modelcontextprotocol/server'
import { z } from 'zod'

const [certFile, keyFile] = process.argv.slice(2) as [string, string]
const startedAt = Date.now()
let base = ''

const statusOutput = z.object({
  node_id: z.string(),
  name: z.string(),
  version: z.string(),
  uptime_seconds: z.number(),
  load: z.object({ cpu: z.number(), memory: z.number() }),
  listening: z.array(z.string()),
  peers: z.object({ total: z.number(), online: z.number(), members: z.number() })
})

function buildServer (): McpServer {
  const server = new McpServer({ name: 'reference', version: '1.0.0' }, { capabilities: { tools: {} } })
  server.registerTool('get_status', { title: 'Node status', description: 'Status of this server.', outputSchema: statusOutput }, async () => {
    const status = {
      node_id: 'reference-node-000000',
      name: 'reference',
      version: '1.0.0',
      uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
      load: { cpu: Math.round(100 * loadavg()[0]! / cpus().length) / 100, memory: Math.round(1000 * (1 - freemem() / totalmem())) / 10 },
      listening: [base],
      peers: { total: 0, online: 0, members: 0 }
    }
    return { content: [{ type: 'text', text: JSON.stringify(status) }], structuredContent: status }
  })
  return server
}

const modern = createMcpHandler(() => buildServer(), { legacy: 'reject' })
const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>()

async function legacy (request: Request, parsedBody: unknown): Promise<Response> {
  const sid = request.headers.get('mcp-session-id')
  if (sid !== null) {
    const transport = sessions.get(sid)
    if (transport === undefined) return Response.json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }, { status: 404 })
    return await transport.handleRequest(request, { parsedBody })
  }
  if (request.method === 'POST' && isInitializeRequest(parsedBody)) {
    const server = buildServer()
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => { sessions.set(id, transport) },
      onsessionclosed: (id) => { sessions.delete(id) }
    })
    await server.connect(transport)
    return await transport.handleRequest(request, { parsedBody })
  }
  return Response.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: no valid session' }, id: null }, { status: 400 })
}

/** node:http(s) request -> web Request -> the SDK -> web Response -> node:http(s) response. */
async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!(req.url ?? '').startsWith('/mcp')) { res.writeHead(404).end(); return }
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  let parsedBody: unknown
  if (text.trim() !== '') {
    try { parsedBody = JSON.parse(text) } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}')
      return
    }
  }
  const abort = new AbortController()
  res.once('close', () => abort.abort())
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === 'content-length' || k === 'host') continue
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one)
  }
  const request = new Request(`${base}${req.url ?? '/'}`, { method: req.method, headers, body: req.method === 'POST' ? text : undefined, signal: abort.signal })
  const response = await isLegacyRequest(request, parsedBody) ? await legacy(request, parsedBody) : await modern.fetch(request, { parsedBody })
  res.writeHead(response.status, Object.fromEntries(response.headers))
  if (response.body === null) { res.end(); return }
  for await (const chunk of response.body) res.write(chunk)
  res.end()
}

const listener = (req: IncomingMessage, res: ServerResponse): void => {
  handle(req, res).catch((err: Error) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: err.message }))
  })
}
// TLS 1.3 only and the node's keep-alive timeout, as the node's server has.
const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.3' }, listener)
server.keepAliveTimeout = 72_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number }
  base = `https://127.0.0.1:${port}`
  process.stdout.write(JSON.stringify({ port }) + '\n')
})
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)) })
