import type { FastifyRequest } from 'fastify'

/** The value of the request's cookie `name` (the first one sent), if any. */
export function cookieOf (req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** The cookie that marks a browser the operator signed in with (see SignInGuard). */
export const TRUSTED_BROWSER_COOKIE = 'edge_hive_browser'

/**
 * The Set-Cookie values that keep a trusted-browser token: one cookie for the whole node, so a
 * sign-in on the console counts on the approval pages and the other way round. Earlier
 * versions kept it under /interaction; that copy is cleared, or the browser would send the
 * stale one first there.
 */
export function trustedBrowserCookies (token: string, maxAgeMs: number): string[] {
  return [
    `${TRUSTED_BROWSER_COOKIE}=${token}; Path=/; Max-Age=${Math.floor(maxAgeMs / 1000)}; HttpOnly; Secure; SameSite=Strict`,
    `${TRUSTED_BROWSER_COOKIE}=; Path=/interaction; Max-Age=0; HttpOnly; Secure; SameSite=Strict`
  ]
}
