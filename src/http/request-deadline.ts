import { Socket } from 'node:net'
import { Readable } from 'node:stream'
import { constants as h2 } from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from './errors.ts'

type RawRequest = IncomingMessage | Http2ServerRequest

/**
 * The request body as fastify's body parsers read it: the raw request, passed through, but only
 * once someone reads it. Routes whose handler hands the raw request on (the authorization
 * server reads its own bodies) never read this, and the raw stream stays untouched for them.
 */
class DeadlinePayload extends Readable {
  readonly #source: RawRequest
  #started = false

  constructor (source: RawRequest) {
    super()
    this.#source = source
  }

  get started (): boolean {
    return this.#started
  }

  override _read (): void {
    if (this.#started) { this.#source.resume(); return }
    this.#started = true
    this.#source.on('data', (chunk: Buffer) => { if (!this.push(chunk)) this.#source.pause() })
    this.#source.once('end', () => this.push(null))
    this.#source.once('error', (err) => this.destroy(err))
  }
}

interface Pending { timer: NodeJS.Timeout, payload?: DeadlinePayload }

const pending = Symbol('edge-hive.request-deadline')
type Tracked = FastifyRequest & { [pending]?: Pending }

const isHttp2 = (raw: RawRequest): raw is Http2ServerRequest => raw.httpVersionMajor === 2

/** Whether the request carries a body still to come. */
function expectsBody (raw: RawRequest): boolean {
  if (isHttp2(raw)) return !raw.stream.endAfterHeaders
  const length = raw.headers['content-length']
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** Whether the whole request is in: the parser saw its end (HTTP/1.1), or its stream ended (HTTP/2). */
function received (raw: RawRequest): boolean {
  return raw.complete || raw.readableEnded
}

/**
 * A deadline for receiving each request, headers and body: `receiveMs` from the request's
 * start. It bounds the slow-body attack (a body trickled a byte at a time keeps a request, and
 * its connection, open for as long as the client likes). Node's `server.requestTimeout` only
 * covers HTTP/1 connections, and checks them every 30 s; HTTP/2 streams have no such timer at
 * all, so each request gets its own here.
 *
 * When the deadline passes with the body incomplete: if no answer has started, the client gets
 * `408 request_timeout` (through the error handler when fastify is reading the body; written
 * directly when a handler reads the raw request itself), then the HTTP/1.1 connection is
 * closed, or the HTTP/2 stream reset with NO_ERROR (RFC 9113 §8.1: a server that answered
 * before the whole request arrived may ask the client to stop sending). If an answer has
 * started, the connection or stream is cut. The deadline is for receiving the request only: a
 * request that is in (every GET, and every POST once its body arrived) is never cut by it, so
 * long answers such as SSE streams live on.
 */
export function enforceRequestDeadline (app: FastifyInstance, receiveMs: number): void {
  const fire = (req: Tracked, reply: FastifyReply): void => {
    const p = req[pending]
    req[pending] = undefined
    const raw = req.raw as RawRequest
    const res = reply.raw as ServerResponse
    if (p === undefined || received(raw)) return
    req.log.debug({ path: req.routeOptions.url ?? 'unmatched', ms: receiveMs }, 'request not received in time')
    /** Once the answer is sent: the HTTP/1.1 connection closes, the HTTP/2 stream is reset. */
    const closeAfter = (): void => {
      if (isHttp2(raw)) {
        // The stream's own end, not the response's 'finish' (which HTTP/2 emits only once the
        // stream closes, and it does not while the client still sends).
        const stream = raw.stream
        const close = (): void => { if (!stream.destroyed && !stream.closed) stream.close(h2.NGHTTP2_NO_ERROR) }
        if (stream.writableFinished) close()
        else stream.once('finish', close)
        return
      }
      const close = (): void => { if (!raw.complete) raw.socket.destroySoon() }
      if (res.writableFinished) close()
      else res.once('finish', close)
    }
    const late = new HttpError('request_timeout', `The request was not received within ${Math.round(receiveMs / 1000)} s.`)
    if (!res.headersSent && !reply.sent && p.payload?.started === true) {
      // fastify is reading the body: its body parser fails with this, and the error handler answers.
      p.payload.destroy(late)
      closeAfter()
      return
    }
    if (!res.headersSent && !res.writableEnded) {
      if (!reply.sent) reply.hijack()
      res.writeHead(408, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...(isHttp2(raw) ? {} : { connection: 'close' })
      })
      res.end(JSON.stringify({ error: late.code, message: late.message }))
      closeAfter()
      return
    }
    // An answer is under way while the client still sends its request: stop it.
    if (isHttp2(raw)) raw.stream.close(raw.stream.writableFinished ? h2.NGHTTP2_NO_ERROR : h2.NGHTTP2_CANCEL)
    else raw.socket.destroy()
  }

  app.addHook('onRequest', async (req: Tracked, reply) => {
    const raw = req.raw as RawRequest
    // In-process requests (app.inject) arrive whole; only network requests can be slow.
    if (!isHttp2(raw) && !(raw.socket instanceof Socket)) return
    if (!expectsBody(raw) || received(raw)) return
    const timer = setTimeout(() => fire(req, reply), receiveMs)
    req[pending] = { timer }
    const done = (): void => {
      clearTimeout(timer)
      req[pending] = undefined
    }
    raw.once('end', done)
    raw.once('close', done)
  })

  app.addHook('preParsing', async (req: Tracked, _reply, payload) => {
    const p = req[pending]
    if (p === undefined || payload !== req.raw) return payload
    p.payload = new DeadlinePayload(req.raw as RawRequest)
    return p.payload
  })
}
