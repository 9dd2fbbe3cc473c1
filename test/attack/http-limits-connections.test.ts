// Issue #12, finding 10, from the outside: real nodes (in this process, with serve's flags:
// test/helpers/in-process.ts), real HTTPS over node:https and node:http2. Limits kept per source
// address are shown from several addresses at once by binding the client to other loopback
// addresses (127.0.0.2, 127.0.0.3...: the whole of 127.0.0.0/8 is loopback on Linux). Time limits
// are shrunk by settings, and every time bound is asserted with a wide margin, so a busy machine
// does not fail them.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpsRequest } from 'node:https'
import { connect as h2connect, type ClientHttp2Session } from 'node:http2'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { Fleet, type TestNode } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { eventually } from '../helpers/eventually.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'
import { FORM, caOf, fresh, from, sleep } from './http-limits-lib.ts'

const fleet = new Fleet()
after(async () => { await fleet.cleanup() })

/** Sends the head of a POST and then one byte of its body every `everyMs`, over HTTP/1.1; resolves with the answer and when it came. */
function trickle1 (node: TestNode, path: string, headers: Record<string, string>, everyMs: number): Promise<{ status: number, body: string, ms: number, closed: Promise<number> }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${node.url}${path}`, { method: 'POST', ca: caOf(node), agent: false, headers: { ...headers, 'content-length': '1000' } })
    const timer = setInterval(() => { if (!req.destroyed) req.write('a') }, everyMs)
    const closed = new Promise<number>((done) => req.on('close', () => { clearInterval(timer); done(Date.now() - started) }))
    req.on('socket', (s) => s.on('error', () => undefined))
    req.on('error', (err) => { clearInterval(timer); reject(err) })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started, closed }))
    })
    req.write('a')
    setTimeout(() => { clearInterval(timer); req.destroy(new Error('no answer within 60 s')) }, 60_000).unref()
  })
}

/** The same over HTTP/2: one stream, its body trickled; resolves with the answer, and when the stream closed. */
function trickle2 (session: ClientHttp2Session, path: string, headers: Record<string, string>, everyMs: number): Promise<{ status: number, body: string, ms: number, closed: Promise<number> }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, ...headers, 'content-length': '1000' })
    const timer = setInterval(() => { if (!stream.closed && stream.writable) stream.write('a') }, everyMs)
    const closed = new Promise<number>((done) => stream.on('close', () => { clearInterval(timer); done(Date.now() - started) }))
    let status = 0
    let body = ''
    // A client that gets its answer stops sending (RFC 9113 §8.1); what is left to see is the
    // server resetting the stream, which it does once the answer is out.
    stream.on('response', (h) => { status = Number(h[':status']); clearInterval(timer) })
    stream.on('data', (d: Buffer) => { body += d.toString() })
    stream.on('end', () => resolve({ status, body, ms: Date.now() - started, closed }))
    // A stream reset without an answer ends in 'close' alone: settle then too, so the test fails
    // on its assertions (status 0) instead of waiting for the file's timeout.
    stream.on('close', () => resolve({ status, body, ms: Date.now() - started, closed }))
    stream.on('error', reject)
    stream.write('a')
    setTimeout(() => { clearInterval(timer); stream.close() }, 60_000).unref()
  })
}

describe('the request deadline and the connection cap (finding 10)', () => {
  // Paths read by fastify's body parsers (JSON, forms) and one read by the authorization server itself.
  const PATHS: Array<[string, Record<string, string>]> = [
    ['/mcp/tools/call', { 'content-type': 'application/json' }],
    ['/oauth/token', { 'content-type': FORM }],
    ['/oauth/register', { 'content-type': 'application/json' }]
  ]

  it('answers a body trickled over HTTP/1.1 with 408 at the deadline and closes the connection', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--request-timeout', '2s'] })
    const op = operatorClient(node.dataDir)
    const access = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    for (const [path, headers] of PATHS) {
      const r = await trickle1(node, path, { ...headers, authorization: path.startsWith('/mcp') ? `Bearer ${access}` : '' }, 500)
      assert.equal(r.status, 408, `${path}: ${r.body}`)
      assert.equal(JSON.parse(r.body).error, 'request_timeout')
      assert.ok(r.ms >= 1500 && r.ms < 15_000, `${path}: answered after ${r.ms} ms`)
      const closedAt = await r.closed
      assert.ok(closedAt < 20_000, `${path}: the connection closed after ${closedAt} ms`)
    }
  })

  it('answers a body trickled over HTTP/2 with 408 at the deadline and resets the stream', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--request-timeout', '2s'] })
    const op = operatorClient(node.dataDir)
    const access = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const session = h2connect(node.url, { ca: caOf(node) })
    session.on('error', () => undefined)
    try {
      for (const [path, headers] of PATHS) {
        const r = await trickle2(session, path, { ...headers, ...(path.startsWith('/mcp') ? { authorization: `Bearer ${access}` } : {}) }, 500)
        assert.equal(r.status, 408, `${path}: ${r.body}`)
        assert.equal(JSON.parse(r.body).error, 'request_timeout')
        assert.ok(r.ms >= 1500 && r.ms < 15_000, `${path}: answered after ${r.ms} ms`)
        assert.ok(await r.closed < 20_000, `${path}: the stream closed`)
      }
      // The connection itself is fine: its other streams are served.
      const ok = await new Promise<number>((resolve, reject) => {
        const s = session.request({ ':path': '/healthz' })
        s.on('response', (h) => resolve(Number(h[':status'])))
        s.on('error', reject)
        s.resume()
      })
      assert.equal(ok, 200)
    } finally {
      session.destroy()
    }
  })

  it('does not cut an event stream (GET /mcp/node/{id}/stream) that lasts past the deadline, over HTTP/1.1 and HTTP/2', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--request-timeout', '2s'] })
    const op = operatorClient(node.dataDir)
    const access = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const path = `/mcp/node/${node.ready.node_id}/stream`
    let text1 = ''
    let ended1 = false
    const req1 = httpsRequest(`${node.url}${path}`, { ca: caOf(node), agent: false, headers: { authorization: `Bearer ${access}`, accept: 'text/event-stream' } })
    req1.on('response', (res) => { res.on('data', (d: Buffer) => { text1 += d.toString() }); res.on('close', () => { ended1 = true }) })
    req1.on('error', () => { ended1 = true })
    req1.end()
    const session = h2connect(node.url, { ca: caOf(node) })
    session.on('error', () => undefined)
    let text2 = ''
    let ended2 = false
    const s2 = session.request({ ':path': path, authorization: `Bearer ${access}`, accept: 'text/event-stream' })
    s2.on('data', (d: Buffer) => { text2 += d.toString() })
    s2.on('close', () => { ended2 = true })
    s2.on('error', () => { ended2 = true })
    try {
      assert.ok(await eventually(() => text1.includes('edge-hive notifications') && text2.includes('edge-hive notifications'), (v) => v), 'both streams opened')
      await sleep(5000) // more than twice the deadline
      assert.equal(ended1, false, 'the HTTP/1.1 stream is open')
      assert.equal(ended2, false, 'the HTTP/2 stream is open')
      // And it still delivers: an audited change is a log event on both.
      const added = await request1(`${node.url}/admin/clients`, {
        ca: caOf(node),
        method: 'POST',
        headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: fresh('streamed-'), scopes: ['mcp:read'] })
      })
      assert.equal(added.status, 201, added.body)
      assert.ok(await eventually(() => text1.includes('client.added') && text2.includes('client.added'), (v) => v), 'both streams delivered the event')
    } finally {
      req1.destroy()
      session.destroy()
    }
  })

  it('caps the connections open at once from one address, and only from that address', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--max-connections-per-address', '3'] })
    const open: TLSSocket[] = []
    const connect = (address: string): Promise<TLSSocket | 'refused'> => new Promise((resolve) => {
      const u = new URL(node.url)
      const tcp = netConnect({ host: u.hostname, port: Number(u.port), localAddress: address })
      tcp.on('error', () => undefined)
      const s = tlsConnect({ socket: tcp, servername: 'localhost', ca: caOf(node), ALPNProtocols: ['http/1.1'] })
      s.once('secureConnect', () => { open.push(s); resolve(s) })
      s.once('error', () => resolve('refused'))
      s.once('close', () => resolve('refused'))
    })
    try {
      for (let i = 0; i < 3; i++) assert.notEqual(await connect('127.0.0.2'), 'refused', `connection ${i + 1}`)
      assert.equal(await connect('127.0.0.2'), 'refused', 'the fourth from the same address is closed')
      assert.notEqual(await connect('127.0.0.3'), 'refused', 'another address connects')
      // Once one closes, the address may connect again.
      open[0]!.destroy()
      assert.notEqual(await eventually(async () => await connect('127.0.0.2'), (s) => s !== 'refused'), 'refused', 'the address connects again')
      const health = await from('127.0.0.4', node, '/healthz')
      assert.equal(health.status, 200)
    } finally {
      for (const s of open) s.destroy()
    }
  })
})

describe('siblings: limits an attacker could slip past', () => {
  it('counts refused tokens per source address before checking them: a flood of forged tokens gets 429', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--api-rate-limit', '3'] })
    const forged = async (address: string): Promise<number> => (await from(address, node, '/admin/clients', { headers: { authorization: `Bearer ${fresh('forged.')}` } })).status
    assert.deepEqual([await forged('127.0.0.2'), await forged('127.0.0.2'), await forged('127.0.0.2'), await forged('127.0.0.2')], [401, 401, 401, 429])
    assert.equal(await forged('127.0.0.3'), 401, 'another address is answered')
    // A valid token from the flooded address is not what was limited: it gets its own allowance.
    const op = operatorClient(node.dataDir)
    const access = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    assert.equal((await from('127.0.0.4', node, '/admin/clients', { headers: { authorization: `Bearer ${access}` } })).status, 200)
  })

  it('bounds the HTTP/2 streams one connection may open at once', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p'] })
    const session = h2connect(node.url, { ca: caOf(node) })
    session.on('error', () => undefined)
    try {
      await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()))
      const max = session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY
      assert.ok(max <= 1000, `SETTINGS_MAX_CONCURRENT_STREAMS is ${max}`)
    } finally {
      session.destroy()
    }
  })
})
