import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/index.ts'
import { createLogger } from '../../src/shared/logger.ts'
import { EdgeNode, type NodeSummary } from '../../src/node.ts'
import { request1 } from '../helpers/https.ts'
import { tempDir, removeDir } from '../helpers/cli.ts'

interface Operation { tags?: string[], summary?: string, security?: Array<Record<string, string[]>>, requestBody?: unknown }
interface OpenApi { openapi: string, info: { title: string, version: string }, servers: Array<{ url: string }>, paths: Record<string, Record<string, Operation>> }

/** fastify's `/a/:b` as OpenAPI's `/a/{b}`. */
const toOpenApiPath = (url: string): string => url.replace(/:([A-Za-z_]+)/g, '{$1}')

// The routes that are not in the document, each for a reason: the document itself, and the
// authorization server's catch-all mount (its endpoints are listed one by one instead), and the
// sign-in and consent pages, which are HTML for people, not API.
const UNDOCUMENTED = new Set(['/openapi.json', '/oauth/*', '/interaction/:uid', '/interaction/:uid/login', '/interaction/:uid/consent'])

describe('the OpenAPI document (GET /openapi.json)', () => {
  const dir = tempDir()
  let node: EdgeNode
  let summary: NodeSummary
  let doc: OpenApi

  before(async () => {
    const { config } = loadConfig({ env: {}, flags: { dataDir: dir, host: '127.0.0.1', port: 0, store: 'mem://', p2pEnabled: false, metricsEnabled: false } })
    node = new EdgeNode(config, createLogger('error', { destination: new Writable({ write: (_c, _e, cb) => cb() }) }))
    summary = await node.start()
    const res = await request1(`${summary.localUrl}/openapi.json`)
    assert.equal(res.status, 200)
    doc = res.json<OpenApi>()
  })
  after(async () => {
    await node?.stop()
    removeDir(dir)
  })

  it('is OpenAPI 3.1 with the node\'s version and URL', () => {
    assert.equal(doc.openapi, '3.1.0')
    assert.match(doc.info.title, /Edge Hive node API/)
    assert.match(doc.info.version, /^\d+\.\d+\.\d+/)
    assert.deepEqual(doc.servers, [{ url: summary.baseUrl }])
  })

  it('describes every route the node serves, and no route it does not', () => {
    const served = new Set(node.httpRoutes()
      // The console is pages for a browser, not API (docs/console.md).
      .filter((r) => !UNDOCUMENTED.has(r.url) && r.url !== '/console' && !r.url.startsWith('/console/') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
      .map((r) => `${r.method.toLowerCase()} ${toOpenApiPath(r.url)}`))
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)))
    assert.ok(served.size > 25, `the node serves its API (${served.size} operations)`)
    assert.deepEqual([...served].filter((x) => !documented.has(x)), [], 'served but not documented')
    assert.deepEqual([...documented].filter((x) => !served.has(x)), [], 'documented but not served')
  })

  it('every route\'s request schema compiles (the node compiles each on its first request)', () => {
    const { validators, failures } = node.compileHttpValidators()
    assert.ok(validators > 10, `the routes' validators (${validators})`)
    assert.deepEqual(failures, [])
  })

  it('covers the seed\'s REST surface: info, token, tools/call, resources, stream, discovery, health', () => {
    for (const path of [
      '/mcp/node/{node_id}/info', '/oauth/token', '/mcp/auth/token', '/mcp/tools/call', '/mcp/node/{node_id}/resources/{uri}',
      '/mcp/node/{node_id}/stream', '/discovery/peers', '/discovery/announce', '/healthz', '/readyz'
    ]) {
      assert.ok(doc.paths[path] !== undefined, `${path} is documented`)
    }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok((op.summary ?? '').length > 0, `${method} ${path} has a summary`)
        assert.ok((op.tags ?? []).length > 0, `${method} ${path} has a tag`)
      }
    }
    assert.ok(doc.paths['/oauth/token']!.post!.requestBody !== undefined, 'the token request\'s form is described')
  })

  it('gives each operation the security the route enforces: none for public routes, the route\'s scope otherwise', async () => {
    assert.deepEqual(doc.paths['/healthz']!.get!.security, [])
    assert.deepEqual(doc.paths['/oauth/token']!.post!.security, [])
    assert.deepEqual(doc.paths['/hive/init']!.post!.security, [{ bearer: [] }, { oauth2: ['mcp:admin'] }])
    assert.deepEqual(doc.paths['/discovery/peers']!.get!.security, [{ bearer: [] }, { oauth2: ['mcp:read'] }])
    // And the node enforces it: a documented protected route refuses a request without a token.
    const res = await request1(`${summary.localUrl}/discovery/peers`)
    assert.equal(res.status, 401)
    const open = await request1(`${summary.localUrl}/healthz`)
    assert.equal(open.status, 200)
  })
})
