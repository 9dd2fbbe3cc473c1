// The raw limit: a bare node:https server (TLS 1.3, keep-alive) that reads each request body
// to its end without parsing anything and answers with a fixed JSON-RPC response (the bytes of
// the node's own get_status answer). What is left is TLS, HTTP/1.1 and the event loop.
// usage: node raw-server.ts <cert.pem> <key.pem> <response-body-file>   prints {"port":N}
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'

const [certFile, keyFile, bodyFile] = process.argv.slice(2) as [string, string, string]
const body = readFileSync(bodyFile)
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) }

const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.3' }, (req, res) => {
  req.on('data', () => undefined)
  req.on('end', () => { res.writeHead(200, headers).end(body) })
})
server.keepAliveTimeout = 72_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number }
  process.stdout.write(JSON.stringify({ port }) + '\n')
})
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)) })
