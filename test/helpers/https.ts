import { connect as h2connect } from 'node:http2'
import { request as httpsRequest, type RequestOptions } from 'node:https'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** `h2` or `http/1.1`, as negotiated. */
  protocol: string
  tlsVersion: string | null
  json<T = Record<string, unknown>> (): T
}

function answer (status: number, headers: Answer['headers'], body: string, protocol: string, tlsVersion: string | null): Answer {
  return { status, headers, body, protocol, tlsVersion, json: <T>() => JSON.parse(body) as T }
}

/**
 * HTTPS/1.1 request with Node's own client, trusting exactly the node's certificate
 * (`ca` = its self-signed certificate, so hostname and chain are really checked).
 */
export function request1 (url: string, options: { method?: string, headers?: Record<string, string>, body?: string | Buffer, ca?: string, tls?: Partial<RequestOptions> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: options.method ?? 'GET', headers: options.headers, agent: false,
      ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca }),
      ...options.tls
    }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => {
        const socket = res.socket as import('node:tls').TLSSocket
        resolve(answer(res.statusCode ?? 0, res.headers, body, socket.alpnProtocol || 'http/1.1', socket.getProtocol?.() ?? null))
      })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** One HTTP/2 request over a fresh session. */
export function request2 (url: string, options: { method?: string, headers?: Record<string, string>, body?: string, ca?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const session = h2connect(u.origin, options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca })
    session.on('error', reject)
    const req = session.request({ ':method': options.method ?? 'GET', ':path': `${u.pathname}${u.search}`, ...options.headers })
    let status = 0
    let headers: Answer['headers'] = {}
    let body = ''
    req.on('response', (h) => { status = Number(h[':status']); headers = h as Answer['headers'] })
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      const socket = session.socket as import('node:tls').TLSSocket
      const result = answer(status, headers, body, socket.alpnProtocol || '', socket.getProtocol?.() ?? null)
      session.close()
      resolve(result)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
