import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Http2Session } from 'node:http2'
import type { Server } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { addressKey } from './rate-limits.ts'

/**
 * Lets a stop drain open connections instead of waiting on them or cutting them.
 *
 * Node 22's HTTP/2 server does not close its sessions on `server.close()` (Node 24 does), and
 * HTTP/1.1 keep-alive sockets on an HTTP/2 server have no `closeIdleConnections()`, so without
 * this a stop waits for clients to hang up. On drain, HTTP/2 sessions get GOAWAY (in-flight
 * streams finish), idle HTTP/1.1 sockets are ended, and busy ones are ended after their
 * last response; `destroyAll` is the bound when in-flight work takes too long.
 *
 * It also caps the connections open at once from one source address (IPv6: one /64), counted
 * from the TCP accept, before any TLS work: beyond `maxPerAddress` a new connection is closed
 * at once. Without it one client could hold every socket and file descriptor the node has,
 * slowly (each kept alive by the idle timeout) or by a flood of handshakes.
 */
export class ConnectionTracker {
  readonly #sessions = new Set<Http2Session>()
  readonly #sockets = new Map<Socket, number>() // HTTP/1.x socket -> requests in flight
  readonly #perAddress = new Map<string, number>()
  readonly #maxPerAddress: number
  readonly #onRefused: (address: string) => void
  #draining = false

  constructor (options: { maxPerAddress: number, onRefused?: (address: string) => void } = { maxPerAddress: Number.POSITIVE_INFINITY }) {
    this.#maxPerAddress = options.maxPerAddress
    this.#onRefused = options.onRefused ?? (() => undefined)
  }

  /** Connections open now from this address key. */
  openFrom (address: string): number {
    return this.#perAddress.get(addressKey(address)) ?? 0
  }

  /** `secure`: the server speaks TLS, so the sockets to track are the TLS ones, not the TCP ones beneath. */
  attach (app: FastifyInstance, secure: boolean): void {
    const server = app.server as unknown as Server
    server.on('session', (session: Http2Session) => {
      this.#sessions.add(session)
      session.once('close', () => this.#sessions.delete(session))
      if (this.#draining) session.close()
    })
    app.addHook('onRequest', async (req) => {
      if (req.raw.httpVersionMajor !== 1) return
      const socket = req.raw.socket
      const inFlight = this.#sockets.get(socket)
      if (inFlight !== undefined) this.#sockets.set(socket, inFlight + 1)
    })
    app.addHook('onSend', async (req, reply) => {
      if (this.#draining && req.raw.httpVersionMajor === 1) reply.header('connection', 'close')
    })
    app.addHook('onResponse', async (req) => {
      if (req.raw.httpVersionMajor !== 1) return
      const socket = req.raw.socket
      if (!this.#sockets.has(socket)) return // closed meanwhile
      const left = Math.max(0, (this.#sockets.get(socket) ?? 1) - 1)
      this.#sockets.set(socket, left)
      if (left === 0 && this.#draining) socket.end()
    })
    server.on(secure ? 'secureConnection' : 'connection', (socket: Socket) => this.#track(socket))
    // First of the server's listeners: a refused connection gets no TLS handshake.
    server.prependListener('connection', (socket: Socket) => this.#admit(socket))
  }

  #admit (socket: Socket): void {
    const key = addressKey(socket.remoteAddress ?? 'unknown')
    const open = this.#perAddress.get(key) ?? 0
    if (open >= this.#maxPerAddress) {
      this.#onRefused(key)
      socket.destroy()
      return
    }
    this.#perAddress.set(key, open + 1)
    socket.once('close', () => {
      const left = (this.#perAddress.get(key) ?? 1) - 1
      if (left <= 0) this.#perAddress.delete(key)
      else this.#perAddress.set(key, left)
    })
  }

  #track (socket: Socket): void {
    if (this.#sockets.has(socket)) return
    this.#sockets.set(socket, 0)
    socket.once('close', () => this.#sockets.delete(socket))
  }

  /** Asks every connection to finish: no new requests, in-flight ones complete. */
  drain (): void {
    this.#draining = true
    for (const session of this.#sessions) session.close()
    for (const [socket, inFlight] of this.#sockets) {
      // An HTTP/2 session's own socket is closed by the session.
      if (inFlight === 0 && (socket as TLSSocket).alpnProtocol !== 'h2') socket.end()
    }
  }

  /** Cuts whatever is still open. */
  destroyAll (): void {
    for (const session of this.#sessions) session.destroy()
    for (const socket of this.#sockets.keys()) socket.destroy()
  }
}
