import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'

/**
 * `GET /metrics` on a listener of its own (plain HTTP, as Prometheus scrapes), apart from the
 * API so it is never exposed by accident: by default it binds 127.0.0.1.
 */
export class MetricsServer {
  readonly #render: () => Promise<{ contentType: string, body: string }>
  readonly #log: Logger
  #server?: Server

  constructor (render: () => Promise<{ contentType: string, body: string }>, logger: Logger) {
    this.#render = render
    this.#log = logger
  }

  async listen (host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found', message: 'Only /metrics is served here.' }))
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ error: 'method_not_allowed', message: 'Use GET.' }))
        return
      }
      this.#render().then(({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body)
      }, (err: unknown) => {
        this.#log.error({ err }, 'could not render metrics')
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'server_error', message: 'The metrics could not be rendered.' }))
      })
    })
    server.requestTimeout = 10_000
    server.headersTimeout = 10_000
    server.keepAliveTimeout = 5_000
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    })
    const address = server.address()
    return typeof address === 'object' && address !== null ? address.port : port
  }

  async close (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
