import { createRequire } from 'node:module'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'

// Not `import ... from 'node:http'`: Node's ES module view of http reads every export, and one
// of them loads Node's whole fetch implementation (undici), 37 ms of every CLI command run from
// the separate modules. (process.getBuiltinModule would do, but only from Node 22.3.)
const { request: httpRequest } = createRequire(import.meta.url)('node:http') as typeof import('node:http')

export interface PinnedResponse {
  status: number
  body: string
}

const MAX_BODY = 1024 * 1024

/**
 * GET over HTTPS to a node whose certificate fingerprint we know from its data dir: the
 * connection is trusted because the certificate is exactly that one (pinning), not because a
 * CA vouches for it, so self-signed certificates work and nothing else is accepted.
 * The fingerprint is checked before a single byte of the request is sent.
 */
export async function pinnedGet (url: string, fingerprint: string | undefined, timeoutMs: number): Promise<PinnedResponse> {
  return await pinnedRequest('GET', url, { fingerprint, timeoutMs })
}

/** Any method, with an optional JSON body and extra headers, under the same pinning. */
export async function pinnedRequest (method: string, url: string, options: {
  fingerprint: string | undefined
  timeoutMs: number
  json?: unknown
  /** A form body (application/x-www-form-urlencoded), for OAuth endpoints. */
  form?: URLSearchParams
  headers?: Record<string, string>
  /** Without a fingerprint: trust the system's CAs, or these PEM certificates. */
  ca?: string | undefined
  /** Without a fingerprint and without `ca`: refuse rather than trust the system's CAs. */
  requirePin?: boolean
}): Promise<PinnedResponse> {
  const { fingerprint, timeoutMs } = options
  const body = options.form !== undefined ? Buffer.from(options.form.toString()) : options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json))
  const contentType = options.form !== undefined ? 'application/x-www-form-urlencoded' : 'application/json'
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80))
  const signal = AbortSignal.timeout(timeoutMs)

  let socket: TLSSocket | undefined
  if (u.protocol === 'https:') {
    if (fingerprint === undefined && options.ca === undefined && options.requirePin !== false) throw new Error('no certificate fingerprint to check the node against')
    socket = await new Promise<TLSSocket>((resolve, reject) => {
      // Pinned: any certificate, checked below against the fingerprint. Otherwise the usual
      // verification, against the given CA or the system's.
      const verify = fingerprint === undefined ? { rejectUnauthorized: true, ...(options.ca === undefined ? {} : { ca: options.ca }) } : { rejectUnauthorized: false }
      const s = tlsConnect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, ...verify, ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.3' })
      const onAbort = (): void => { s.destroy(); reject(new Error(`no answer from ${u.host} within ${timeoutMs} ms`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      s.once('close', () => signal.removeEventListener('abort', onAbort))
      s.once('secureConnect', () => {
        const seen = s.getPeerCertificate().fingerprint256
        if (fingerprint !== undefined && seen !== fingerprint) {
          s.destroy()
          reject(new Error(`the server at ${u.host} presents certificate ${seen ?? 'none'}, not the node's ${fingerprint}`))
          return
        }
        resolve(s)
      })
      s.once('error', reject)
    })
  }

  return await new Promise<PinnedResponse>((resolve, reject) => {
    const req = httpRequest({
      host, port, path: `${u.pathname}${u.search}`, method, signal,
      headers: {
        accept: 'application/json', host: u.host, ...options.headers,
        ...(body === undefined ? {} : { 'content-type': contentType, 'content-length': String(body.length) })
      },
      ...(socket === undefined ? {} : { createConnection: () => socket })
    }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_BODY) { req.destroy(new Error('response too large')); return }
        chunks.push(chunk)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.once('error', reject)
    req.end(body)
  })
}
