import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { createHttpServer, HttpError } from '../../src/http/index.ts'
import { createLogger } from '../../src/shared/logger.ts'
import { StartupError } from '../../src/shared/errors.ts'

// The error handling of the real server, with a few routes of the test's own to provoke it
// (fastify's inject: no sockets needed).
async function bare () {
  return await createHttpServer(createLogger('off', { pretty: false }), {
    bodyLimit: 2048, requestTimeoutMs: 30_000, maxConnectionsPerAddress: 100, corsOrigins: [], apiRateLimit: 1000, rateLimitWindowMs: 60_000
  })
}

async function server () {
  const http = await bare()
  http.app.post('/echo', async (req) => req.body)
  http.app.post('/typed', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 8 } } } } }, async (req) => req.body)
  http.app.get('/boom', async () => { throw new Error('database password is hunter2') })
  http.app.get('/internal', async () => { throw new StartupError('store_open', 'do not show this') })
  http.app.get('/grant', async () => { throw new HttpError('unknown_grant', 'No approval 42 here.') })
  http.app.post('/list', { schema: { body: { type: 'array', items: { type: 'integer' } } } }, async (req) => req.body)
  http.app.get('/raw', (_req, reply) => { reply.hijack(); reply.raw.writeHead(200, { 'content-type': 'text/plain' }); reply.raw.end('raw') })
  return http
}

describe('HTTP error answers', async () => {
  const http = await server()
  after(async () => { await http.app.close() })

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const res = await http.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(4096) }) })
    assert.equal(res.statusCode, 413)
    assert.equal(res.json().error, 'payload_too_large')
  })

  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await http.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().error, 'malformed_json')
  })

  it('answers an unsupported content type with 415', async () => {
    const res = await http.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-nope' }, payload: 'x' })
    assert.equal(res.statusCode, 415)
    assert.equal(res.json().error, 'unsupported_media_type')
  })

  it('turns an unexpected failure into a generic server_error without details', async () => {
    const res = await http.app.inject({ method: 'GET', url: '/boom' })
    assert.equal(res.statusCode, 500)
    assert.deepEqual(Object.keys(res.json()).sort(), ['error', 'message'])
    assert.equal(res.json().error, 'server_error')
    assert.doesNotMatch(res.body, /hunter2|at .*\.ts/)
  })

  it('does not expose an error that is not meant for clients', async () => {
    const res = await http.app.inject({ method: 'GET', url: '/internal' })
    assert.equal(res.statusCode, 500)
    assert.equal(res.json().error, 'server_error')
    assert.doesNotMatch(res.body, /store_open|do not show/)
  })

  it('passes on a client error with its code and the status the catalogue gives it', async () => {
    const res = await http.app.inject({ method: 'GET', url: '/grant' })
    assert.equal(res.statusCode, 404)
    assert.deepEqual(res.json(), { error: 'unknown_grant', message: 'No approval 42 here.' })
  })

  it('checks a body against its route\'s schema, on the first request and on later ones (validators compile on first use)', async () => {
    const send = async (body: unknown) => await http.app.inject({ method: 'POST', url: '/typed', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
    for (let i = 0; i < 2; i++) {
      const missing = await send({})
      assert.equal(missing.statusCode, 400, missing.body)
      assert.equal(missing.json().error, 'invalid_request')
      assert.match(missing.json().message, /body must have required property 'name'/)
      const long = await send({ name: 'much too long' })
      assert.equal(long.statusCode, 400, long.body)
      assert.match(long.json().message, /body\/name must NOT have more than 8 characters/)
      const good = await send({ name: 'ok' })
      assert.equal(good.statusCode, 200, good.body)
      assert.deepEqual(good.json(), { name: 'ok' })
    }
  })

  it('refuses, when its route is added, a header schema that names a header in capitals (Node gives header names in lower case)', async () => {
    // The second names it further in, where fastify would have lower-cased it for its own validator.
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ type: 'object', required: ['X-Trace'], properties: { 'X-Trace': { type: 'string' } } }, /header schema of GET \/h names X-Trace: header names in schemas must be lower case/],
      [{ type: 'object', anyOf: [{ required: ['x-a'] }, { required: ['X-B'] }] }, /names X-B/]
    ]
    for (const [headers, refusal] of cases) {
      const other = await bare()
      try {
        other.app.get('/h', { schema: { headers } }, async () => 'ok')
        await assert.rejects(async () => { await other.app.ready() }, refusal)
      } finally {
        await other.app.close().catch(() => undefined)
      }
    }
  })

  it('validates with the same Ajv compiler package fastify itself would use (one copy, fastify\'s settings)', () => {
    const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))
    assert.equal(createRequire(import.meta.url).resolve('@fastify/ajv-compiler'), fastifyRequire.resolve('@fastify/ajv-compiler'))
  })

  it('sends the security headers on every answer, error or not, and written straight to the response or not; HSTS only over TLS', async () => {
    for (const url of ['/grant', '/echo/more', '/raw']) {
      const res = await http.app.inject({ method: 'GET', url })
      assert.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", url)
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url)
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url)
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', url)
      assert.equal(res.headers['strict-transport-security'], undefined, `${url}: no HSTS over plain HTTP`)
      assert.equal(res.headers['x-powered-by'], undefined, url)
    }
  })

  it('lets the schema put a lone value where a list is expected, as fastify\'s own validator does (Ajv replaces the body)', async () => {
    const res = await http.app.inject({ method: 'POST', url: '/list', headers: { 'content-type': 'application/json' }, payload: '5' })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), [5])
  })

  it('tells 405 from 404', async () => {
    const wrong = await http.app.inject({ method: 'GET', url: '/echo' })
    assert.equal(wrong.statusCode, 405)
    assert.equal(wrong.headers.allow, 'POST')
    const missing = await http.app.inject({ method: 'GET', url: '/echo/more' })
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.json().error, 'not_found')
  })

  it('does not repeat a query string in an error message', async () => {
    const res = await http.app.inject({ method: 'GET', url: '/nothing?access_token=abc' })
    assert.equal(res.statusCode, 404)
    assert.doesNotMatch(res.body, /abc/)
  })
})
