// One half of a TCP-over-unix-socket forwarder, so that a node in a network namespace can be
// reached from the machine's own namespace without a network link between the two (unix socket
// paths live in the file system, which the namespaces share):
//   forward.ts unix-to-tcp <socket> <port>   inside the node's namespace: serves the socket, dials 127.0.0.1:<port>
//   forward.ts tcp-to-unix <port> <socket>   in the machine's namespace: serves 127.0.0.1:<port>, dials the socket
import { createServer, connect, type Socket } from 'node:net'
import { chmodSync, rmSync } from 'node:fs'

const [mode, a, b] = process.argv.slice(2)
function usage (): never { process.stderr.write('usage: forward.ts unix-to-tcp <socket> <port> | tcp-to-unix <port> <socket>\n'); process.exit(2) }
if ((mode !== 'unix-to-tcp' && mode !== 'tcp-to-unix') || a === undefined || b === undefined) usage()
const socketPath = mode === 'unix-to-tcp' ? a : b
const port = Number(mode === 'unix-to-tcp' ? b : a)
if (!Number.isInteger(port) || port < 1 || port > 65535) usage()

/** Both directions, with half-close passed on; an error on either side drops both. */
function splice (x: Socket, y: Socket): void {
  x.pipe(y)
  y.pipe(x)
  const drop = (): void => { x.destroy(); y.destroy() }
  x.on('error', drop)
  y.on('error', drop)
}

const dial = (): Socket => mode === 'unix-to-tcp' ? connect({ host: '127.0.0.1', port, allowHalfOpen: true }) : connect({ path: socketPath, allowHalfOpen: true })
const server = createServer({ allowHalfOpen: true }, (inbound) => { splice(inbound, dial()) })
const where = mode === 'unix-to-tcp' ? socketPath : `127.0.0.1:${port}`
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(err.code === 'EADDRINUSE' ? `forward: ${where} is in use already\n` : `forward: cannot listen on ${where}: ${err.message}\n`)
  process.exit(1)
})
const listening = (): void => { process.stdout.write(`forward: listening on ${where}\n`) }
if (mode === 'unix-to-tcp') {
  rmSync(socketPath, { force: true })
  server.listen(socketPath, () => { chmodSync(socketPath, 0o600); listening() })
} else {
  server.listen({ host: '127.0.0.1', port }, listening)
}
const stop = (): void => { server.close(); if (mode === 'unix-to-tcp') rmSync(socketPath, { force: true }); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
