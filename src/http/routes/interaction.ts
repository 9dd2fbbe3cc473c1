import { createHmac } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PAGE_CSP } from '../pages/layout.ts'
import { signInPage, consentPage, errorPage, lockMessage, type ClientFacts } from '../pages/views.ts'
import { cookieOf, TRUSTED_BROWSER_COOKIE, trustedBrowserCookies } from '../cookies.ts'
import { sameSecret } from '../../shared/hash.ts'
import { addressKey, createLimits } from '../rate-limits.ts'

/** What the pages need from the authorization server and the operator account. */
export interface InteractionComponents {
  interaction (req: IncomingMessage, res: ServerResponse): Promise<{ uid: string, prompt: string, clientId: string, requestedScopes: string[], redirectUri?: string | undefined, device: boolean }>
  finishSignIn (req: IncomingMessage, res: ServerResponse): Promise<string>
  finishConsent (req: IncomingMessage, res: ServerResponse, scopes: string[]): Promise<string>
  deny (req: IncomingMessage, res: ServerResponse): Promise<string>
  clientFacts (clientId: string): Promise<{ name: string, registeredBy: 'operator' | 'itself' | 'document', createdAt?: Date | undefined, redirectUris: string[] } | undefined>
  /** `from.address` is the source address key; `from.browser` the trusted-browser cookie, if sent. */
  signIn (password: string, from: { address: string, browser?: string | undefined }): Promise<SignInAnswer>
  operatorSet (): Promise<boolean>
}

/** What a sign-in attempt came to; a lock says why and for how long. */
export type SignInAnswer =
  | { ok: true, trustedBrowser: string }
  | { ok: false, reason: 'unset' }
  | { ok: false, reason: 'wrong' | 'locked', lock?: { scope: 'address' | 'browser' | 'global', retryAfterMs: number } | undefined }

export interface InteractionOptions {
  nodeName: string
  /** Keys the CSRF tokens, which are bound to the interaction. */
  csrfKey: Buffer
  /** Sign-in attempts per minute per address. */
  signInRateLimit: number
  /** Page requests per window per address (the OAuth endpoints' per-address allowance, shared). */
  pageRateLimit: number
  rateLimitWindowMs: number
  /** How long the trusted-browser cookie lasts. */
  trustedBrowserMs: number
}

const FORM_LIMIT = 16 * 1024
const UID = '^[A-Za-z0-9_-]{10,64}$'

/**
 * The sign-in and consent pages of the authorization code and device flows, at
 * `/interaction/{uid}` where the provider sends the browser. Forms carry a CSRF token bound
 * to the interaction; the interaction itself is bound to this browser by the provider's
 * SameSite cookie, so a form posted from another site finds no interaction.
 */
export async function registerInteractionRoutes (app: FastifyInstance, c: InteractionComponents, opts: InteractionOptions): Promise<void> {
  const csrfFor = (uid: string): string => createHmac('sha256', opts.csrfKey).update(`csrf:${uid}`).digest('base64url')
  const csrfOk = (uid: string, given: unknown): boolean => sameSecret(given, csrfFor(uid))
  const html = (reply: FastifyReply, status: number, body: string): FastifyReply =>
    reply.code(status).header('content-security-policy', PAGE_CSP).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body)
  const raw = (req: FastifyRequest, reply: FastifyReply): [IncomingMessage, ServerResponse] => [req.raw as IncomingMessage, reply.raw as ServerResponse]

  const facts = async (clientId: string, redirectUri: string | undefined, device: boolean): Promise<ClientFacts> => {
    const f = await c.clientFacts(clientId)
    const when = f?.createdAt === undefined ? '' : ` on ${f.createdAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`
    let returnsTo = 'its own device (it waits for your approval)'
    if (!device && redirectUri !== undefined) {
      try { returnsTo = new URL(redirectUri).host || redirectUri } catch { returnsTo = redirectUri }
    }
    return {
      id: clientId,
      name: f?.name ?? clientId,
      origin: f === undefined
        ? 'unknown'
        : f.registeredBy === 'operator'
          ? `by the operator${when}`
          : f.registeredBy === 'document'
            // The name is whatever the document says; its web host is what vouches for the app.
            ? `by its metadata document on ${new URL(clientId).host}`
            : `by itself (dynamic registration)${when}`,
      returnsTo
    }
  }

  /** The interaction, or an error page when this browser has none (expired, finished, or never started here). */
  const load = async (req: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply): Promise<Awaited<ReturnType<InteractionComponents['interaction']>> | undefined> => {
    try {
      const d = await c.interaction(...raw(req, reply))
      if (d.uid !== req.params.uid) throw new Error('another interaction')
      return d
    } catch {
      await html(reply, 400, errorPage(opts.nodeName, { error: 'session_not_found' }))
      return undefined
    }
  }

  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, text, done) => {
      done(null, new URLSearchParams(text as string))
    })
    const params = { type: 'object', required: ['uid'], properties: { uid: { type: 'string', pattern: UID } } } as const
    // Every page counts against its address's OAuth allowance; sign-in posts also against their own.
    const perAddress = (name: string, max: number, windowMs: number) => ({ name, max, windowMs, key: (req: FastifyRequest) => addressKey(req.ip) })
    const pages = createLimits(app, [perAddress('oauth-ip', opts.pageRateLimit, opts.rateLimitWindowMs)])
    const signIns = createLimits(app, [perAddress('oauth-ip', opts.pageRateLimit, opts.rateLimitWindowMs), perAddress('signin-ip', opts.signInRateLimit, 60_000)])
    const page = { config: { public: true, rateLimit: false as const }, schema: { hide: true, params }, preHandler: pages.enforce }

    scope.get<{ Params: { uid: string } }>('/interaction/:uid', page, async (req, reply) => {
      const d = await load(req, reply)
      if (d === undefined) return reply
      const client = await facts(d.clientId, d.redirectUri, d.device)
      if (d.prompt === 'login') {
        return await html(reply, 200, signInPage(opts.nodeName, { action: `/interaction/${d.uid}/login`, csrf: csrfFor(d.uid), client, unset: !(await c.operatorSet()) }))
      }
      return await html(reply, 200, consentPage(opts.nodeName, { action: `/interaction/${d.uid}/consent`, csrf: csrfFor(d.uid), client, scopes: d.requestedScopes }))
    })

    scope.post<{ Params: { uid: string }, Body: URLSearchParams }>('/interaction/:uid/login', {
      ...page,
      // Guessing passwords is slow twice over: posts per address here, and the account's locks.
      preHandler: signIns.enforce
    }, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams()
      if (!csrfOk(req.params.uid, form.get('csrf'))) {
        return await html(reply, 403, errorPage(opts.nodeName, { error: 'invalid_request', error_description: 'The form was not sent from this node\'s own page (CSRF check failed).' }))
      }
      const d = await load(req, reply)
      if (d === undefined) return reply
      const client = await facts(d.clientId, d.redirectUri, d.device)
      const again = async (status: number, problem: string): Promise<FastifyReply> => await
      html(reply, status, signInPage(opts.nodeName, { action: `/interaction/${d.uid}/login`, csrf: csrfFor(d.uid), client, problem }))
      const outcome = await c.signIn(form.get('password') ?? '', { address: addressKey(req.ip), browser: cookieOf(req, TRUSTED_BROWSER_COOKIE) })
      if (outcome.ok) {
        // A browser the operator signed in with: someone else's guessing does not lock it out.
        void reply.header('set-cookie', trustedBrowserCookies(outcome.trustedBrowser, opts.trustedBrowserMs))
        return await reply.redirect(await c.finishSignIn(...raw(req, reply)), 303)
      }
      if (outcome.reason === 'unset') return await html(reply, 409, signInPage(opts.nodeName, { action: '', csrf: '', unset: true }))
      if (outcome.lock !== undefined) {
        void reply.header('retry-after', String(Math.ceil(outcome.lock.retryAfterMs / 1000)))
        return await again(429, lockMessage(outcome.lock))
      }
      return await again(401, 'That password is not right.')
    })

    scope.post<{ Params: { uid: string }, Body: URLSearchParams }>('/interaction/:uid/consent', page, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams()
      if (!csrfOk(req.params.uid, form.get('csrf'))) {
        return await html(reply, 403, errorPage(opts.nodeName, { error: 'invalid_request', error_description: 'The form was not sent from this node\'s own page (CSRF check failed).' }))
      }
      const d = await load(req, reply)
      if (d === undefined) return reply
      if (d.prompt !== 'consent') return await html(reply, 403, errorPage(opts.nodeName, { error: 'login_required' }))
      if (form.get('decision') !== 'approve') return await reply.redirect(await c.deny(...raw(req, reply)), 303)
      // Only what was asked for can be approved; anything else in the form is ignored.
      const approved = form.getAll('scope').filter((s) => d.requestedScopes.includes(s))
      return await reply.redirect(await c.finishConsent(...raw(req, reply), approved), 303)
    })
  })
}
