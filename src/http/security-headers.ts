import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * The security headers helmet sets for `options`, worked out once. fastify's helmet plugin
 * builds helmet's middleware again for every request (2.5-3.5% of the CPU of a token or an MCP
 * call, measured); with no per-request options, every answer gets the same headers.
 */
export function securityHeaders (options: HelmetOptions): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, string>()
  const res = {
    setHeader: (name: string, value: unknown) => { headers.set(name.toLowerCase(), String(value)) },
    removeHeader: (name: string) => { headers.delete(name.toLowerCase()) }
  }
  let failed: unknown
  helmet(options)({ headers: {} } as unknown as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => { failed = err })
  if (failed !== undefined) throw failed
  return [...headers]
}
