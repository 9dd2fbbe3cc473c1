import { createHmac } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { esc } from '../pages/layout.ts'
import { addressKey, createLimits } from '../rate-limits.ts'
import { toHttpAnswer } from '../errors.ts'
import { CallerQuota } from '../../mcp/index.ts'
import { CONSOLE_CSP, consolePage, type ConsoleSection } from './layout.ts'
import { ConsoleSessions, type ConsoleSession, type ShownPage } from './sessions.ts'
import { signInForm } from './views.ts'
import { registerConsolePages } from './pages.ts'
import { serveChanges } from './events.ts'
import { cookieOf, TRUSTED_BROWSER_COOKIE, trustedBrowserCookies } from '../cookies.ts'
import { lockMessage } from '../pages/views.ts'
import { sameSecret } from '../../shared/hash.ts'
import type { ConsoleComponents, ConsoleOptions } from './components.ts'

/**
 * The session cookie's name, one per node: cookies do not tell ports apart, so two nodes on one
 * host (two ports) would otherwise overwrite each other's sign-in.
 */
export const sessionCookie = (nodeId: string): string => `edge_hive_console_${nodeId.replace(/[^A-Za-z0-9]/g, '_')}`
const FORM_LIMIT = 16 * 1024
/** A sign-in form is good for this long after the page was served. */
const SIGN_IN_FORM_MS = 60 * 60_000
const MAX_AGE_MS = 12 * 60 * 60_000
const MAX_SESSIONS = 32
const SECTIONS = ['hive', 'node', 'agents', 'apps', 'activity']

/** What a page handler gets: the request's session and the ways to answer. */
export interface ConsoleContext {
  readonly c: ConsoleComponents
  readonly o: ConsoleOptions
  /** Sends a whole page with the console's headers. */
  html (reply: FastifyReply, status: number, o: { title: string, section?: ConsoleSection, csrf?: string, body: string }): FastifyReply
  /** The signed-in session of a page request, or undefined after answering (sign-in page, or 401 for a live refresh). */
  session (req: FastifyRequest, reply: FastifyReply): Promise<ConsoleSession | undefined>
  /** The session of a form post whose CSRF token and origin check out, or undefined after answering 403. */
  form (req: FastifyRequest<{ Body: URLSearchParams }>, reply: FastifyReply): Promise<{ session: ConsoleSession, form: URLSearchParams } | undefined>
  /** Answers a post with a redirect to a page shown once (Post/Redirect/Get), holding the page for at most a minute. */
  show (reply: FastifyReply, session: ConsoleSession, page: ShownPage): Promise<FastifyReply>
}

/**
 * The operator's console at `/console`: server-rendered pages over the node's own services,
 * for the operator only. Signing in takes the operator password (the approval pages' lockouts
 * apply); the session is an HttpOnly, Secure, SameSite=Strict cookie that ends when idle; every
 * change is a POST that carries the session's CSRF token and comes from the console's own
 * origin (Fetch Metadata); no CORS; each address's pages and sign-ins are rate limited.
 */
export async function registerConsole (app: FastifyInstance, c: ConsoleComponents, o: ConsoleOptions): Promise<{ signOutAll: () => void }> {
  const sessions = new ConsoleSessions({ idleMs: o.idleMs, maxAgeMs: MAX_AGE_MS, max: MAX_SESSIONS })
  const streams = new CallerQuota({ total: 16, perClient: 3 })
  const COOKIE = sessionCookie(o.nodeId)

  // The API's CORS never reaches the console: its answers carry no Access-Control-* header, so
  // no other origin may read them, whatever --cors-origin allows for the API.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url === '/console' || req.url.startsWith('/console/') || req.url.startsWith('/console?')) {
      for (const name of Object.keys(reply.getHeaders())) if (name.startsWith('access-control-')) reply.removeHeader(name)
    }
    return payload
  })

  const signInToken = (at: number): string => `${at}.${createHmac('sha256', o.csrfKey).update(`console-sign-in:${at}`).digest('base64url')}`
  const signInTokenOk = (given: string | null): boolean => {
    if (given === null || given.length > 100) return false
    const at = Number(given.split('.')[0])
    if (!Number.isSafeInteger(at) || Date.now() - at > SIGN_IN_FORM_MS || at > Date.now() + 60_000) return false
    return sameSecret(given, signInToken(at))
  }
  /** Fetch Metadata: a browser says where a request came from; only the console's own pages may post. */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const site = req.headers['sec-fetch-site']
    return site === undefined || site === 'same-origin'
  }
  const nextOf = (text: string | null | undefined): string => SECTIONS.includes(String(text ?? '').replace(/^\/console\//, '')) ? String(text) : '/console/hive'

  const ctx: ConsoleContext = {
    c,
    o,
    html: (reply, status, p) => reply.code(status).header('content-security-policy', CONSOLE_CSP).header('cache-control', 'no-store')
      .type('text/html; charset=utf-8').send(consolePage({ nodeName: o.nodeName, ...p })),
    async session (req, reply) {
      const live = req.headers['x-console-live'] === '1'
      const s = sessions.find(cookieOf(req, COOKIE), Date.now(), !live)
      if (s !== undefined) return s
      if (live) await reply.code(401).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('signed out')
      else await reply.redirect(`/console/sign-in?next=${encodeURIComponent(nextOf(req.url.split('?')[0]))}`, 303)
      return undefined
    },
    async form (req, reply) {
      const session = sessions.find(cookieOf(req, COOKIE))
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams()
      if (session === undefined) {
        await reply.redirect('/console/sign-in', 303)
        return undefined
      }
      if (!sameOrigin(req) || !ConsoleSessions.csrfMatches(session, form.get('csrf'))) {
        const body = '<p class="problem" role="alert">This form was not sent from this console (its security token is missing or wrong), ' +
          'so nothing was changed. Go back, reload the page and try again.</p>'
        ctx.html(reply, 403, { title: 'Not done', csrf: session.csrf, body })
        return undefined
      }
      return { session, form }
    },
    async show (reply, session, page) {
      session.shown = { page, until: Date.now() + 60_000 }
      return await reply.redirect('/console/shown', 303)
    }
  }

  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, text, done) => {
      done(null, new URLSearchParams(text as string))
    })
    // Errors on console pages are pages too, with the status and the node's words.
    scope.setErrorHandler(async (err, req, reply) => {
      const answer = toHttpAnswer(err)
      if (answer.internal) req.log.error({ err }, 'console request failed')
      const s = sessions.find(cookieOf(req, COOKIE), Date.now(), false)
      return ctx.html(reply, answer.status, {
        title: answer.status === 429 ? 'Too many requests' : 'Not done',
        ...(s === undefined ? {} : { csrf: s.csrf }),
        body: `<p class="problem" role="alert">${esc(String(answer.body.message ?? answer.body.error))}</p><p><a href="/console/hive">Back to the console</a></p>`
      })
    })
    // Signed in, requests count per session (which takes the password to get) at the API's
    // allowance, so an open page's live updates do not run out; without a session, per address
    // at the OAuth pages' allowance; sign-in posts also against the sign-in limit.
    const signedIn = (req: FastifyRequest): string | undefined => sessions.find(cookieOf(req, COOKIE), Date.now(), false)?.key
    const pages = createLimits(scope, [
      { name: 'console-session', max: o.sessionRateLimit, windowMs: o.rateLimitWindowMs, key: signedIn },
      { name: 'console-ip', max: o.pageRateLimit, windowMs: o.rateLimitWindowMs, key: (req) => signedIn(req) === undefined ? addressKey(req.ip) : undefined }
    ])
    const signIns = createLimits(scope, [
      { name: 'console-ip', max: o.pageRateLimit, windowMs: o.rateLimitWindowMs, key: (req) => addressKey(req.ip) },
      { name: 'console-signin-ip', max: o.signInRateLimit, windowMs: 60_000, key: (req) => addressKey(req.ip) }
    ])
    const route = { config: { public: true, rateLimit: false as const }, schema: { hide: true }, preHandler: pages.enforce }

    scope.get('/console', route, async (_req, reply) => await reply.redirect('/console/hive', 303))

    scope.get<{ Querystring: { next?: string } }>('/console/sign-in', route, async (req, reply) => {
      if (sessions.find(cookieOf(req, COOKIE)) !== undefined) return await reply.redirect(nextOf(req.query.next), 303)
      return ctx.html(reply, 200, { title: 'Sign in to the console', body: signInForm({ csrf: signInToken(Date.now()), unset: !(await c.operatorSet()), next: nextOf(req.query.next) }) })
    })

    scope.post<{ Body: URLSearchParams }>('/console/sign-in', { ...route, preHandler: signIns.enforce }, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams()
      const next = nextOf(form.get('next'))
      const again = (status: number, problem: string): FastifyReply =>
        ctx.html(reply, status, { title: 'Sign in to the console', body: signInForm({ csrf: signInToken(Date.now()), unset: false, next, problem }) })
      if (!sameOrigin(req) || !signInTokenOk(form.get('csrf'))) return again(403, 'This sign-in form has expired or was not sent from this node\'s own page. Try again.')
      const outcome = await c.signIn(form.get('password') ?? '', { address: addressKey(req.ip), browser: cookieOf(req, TRUSTED_BROWSER_COOKIE) })
      if (outcome.ok) {
        const { id } = sessions.open()
        void reply.header('set-cookie', [`${COOKIE}=${id}; Path=/console; HttpOnly; Secure; SameSite=Strict`, ...trustedBrowserCookies(outcome.trustedBrowser, o.trustedBrowserMs)])
        return await reply.redirect(next, 303)
      }
      if (outcome.reason === 'unset') return ctx.html(reply, 409, { title: 'Sign in to the console', body: signInForm({ csrf: '', unset: true, next }) })
      if (outcome.lock !== undefined) {
        void reply.header('retry-after', String(Math.ceil(outcome.lock.retryAfterMs / 1000)))
        return again(429, lockMessage(outcome.lock))
      }
      return again(401, 'That password is not right.')
    })

    scope.post<{ Body: URLSearchParams }>('/console/sign-out', route, async (req, reply) => {
      const f = await ctx.form(req, reply)
      if (f === undefined) return reply
      sessions.close(cookieOf(req, COOKIE))
      void reply.header('set-cookie', `${COOKIE}=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict`)
      return await reply.redirect('/console/sign-in', 303)
    })

    // Live updates: a bare "change" event whenever something the pages show may have changed;
    // the page fetches itself to see what. No data crosses this stream.
    scope.get('/console/events', route, async (req, reply) => {
      const id = cookieOf(req, COOKIE)
      const s = sessions.find(id, Date.now(), false)
      if (s === undefined) return await reply.code(401).type('text/plain; charset=utf-8').send('signed out')
      // The operator holds every right: the quota's share kept for administrators is theirs too.
      const place = streams.acquire({ clientId: s.key, scopes: ['mcp:admin'] })
      if (!place.ok) return await reply.code(place.reason === 'full' ? 503 : 429).type('text/plain; charset=utf-8').send('too many open console pages')
      reply.hijack()
      try {
        await serveChanges(req.raw, reply.raw, { changes: c.changes, perMinute: c.perMinute, live: () => sessions.find(id, Date.now(), false) !== undefined })
      } finally {
        place.release()
      }
    })

    registerConsolePages(scope, ctx, route)
  })
  return { signOutAll: () => { sessions.clear() } }
}
