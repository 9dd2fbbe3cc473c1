import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext, BrowserContextOptions, Page, Response } from 'playwright-core'
import { request1, type Answer } from './https.ts'
import type { NodeProcess } from './cli.ts'

const FORM = 'application/x-www-form-urlencoded'

/** The console's pages, as its navigation lists them. */
export const SECTIONS = ['hive', 'node', 'agents', 'apps', 'activity'] as const

/** Drives the operator's console of one node in a real browser. */
export class ConsoleBrowser {
  readonly #browser: Browser
  readonly #url: string
  readonly #ca: string
  password: string

  constructor (browser: Browser, url: string, ca: string, password: string) {
    this.#browser = browser
    this.#url = url
    this.#ca = ca
    this.password = password
  }

  /** A request outside the browser carrying the browser's console cookie, as a forger who stole nothing else would send it. */
  async request (context: BrowserContext, path: string, init: { method?: string, form?: Record<string, string>, headers?: Record<string, string> } = {}): Promise<Answer> {
    const session = (await context.cookies()).find((k) => k.name.startsWith('edge_hive_console_'))
    return await request1(`${this.#url}${path}`, {
      ca: this.#ca,
      method: init.method ?? (init.form === undefined ? 'GET' : 'POST'),
      headers: {
        ...(session === undefined ? {} : { cookie: `${session.name}=${session.value}` }),
        ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        ...init.headers
      },
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() })
    })
  }

  /**
   * A fresh browser profile (no cookies) whose pages report every Content-Security-Policy
   * violation, both the events the page sees and the messages the browser logs.
   */
  async context (options: BrowserContextOptions = {}): Promise<{ context: BrowserContext, page: Page, violations: string[] }> {
    const context = await this.#browser.newContext(options)
    context.setDefaultTimeout(15_000)
    const violations: string[] = []
    await context.exposeBinding('reportViolation', (_source, text: string) => { violations.push(text) }).catch(() => {})
    await context.addInitScript({ content: 'document.addEventListener("securitypolicyviolation", (e) => { void window.reportViolation?.(e.violatedDirective + ": " + e.blockedURI) })' })
    context.on('page', (p) => p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(`${p.url()}: ${m.text()}`) }))
    const page = await context.newPage()
    return { context, page, violations }
  }

  /** A fresh profile signed in, showing `path`. */
  async signedIn (path: string, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext, page: Page, violations: string[] }> {
    const made = await this.context(options)
    await this.signIn(made.page, path)
    return made
  }

  /** Signs in on the sign-in page (going to `path` first, which leads there); ends on the page asked for. */
  async signIn (page: Page, path?: string): Promise<void> {
    if (path !== undefined) await page.goto(`${this.#url}${path}`)
    assert.equal(new URL(page.url()).pathname, '/console/sign-in')
    await page.fill('input[name=password]', this.password)
    const res = await this.submit(page, 'button:has-text("Sign in")')
    assert.equal(res.status(), 303, `sign-in answered ${res.status()}: ${await page.locator('main').innerText()}`)
    if (path !== undefined) assert.equal(new URL(page.url()).pathname, path)
  }

  /** Clicks a form's button; returns the answer to the POST, after the page it leads to has loaded. */
  async submit (page: Page, button: string): Promise<Response> {
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().startsWith(this.#url)),
      page.waitForEvent('load'),
      page.click(button)
    ])
    return res
  }

  /** Presses Tab until `selector` has the focus (at most 60 times), as a keyboard user gets there. */
  async tabTo (page: Page, selector: string): Promise<void> {
    const target = page.locator(selector).first()
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab')
      if (await target.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement)) return
    }
    assert.fail(`Tab never reached ${selector}`)
  }
}

/**
 * An app's approval, made the way people make one: the app registers itself, the browser goes
 * through sign-in and consent, the app trades the code for tokens (PKCE, offline_access). The
 * app's redirect target is a loopback server that lives only as long as this function.
 */
export async function grantFor (node: NodeProcess, page: Page, password: string): Promise<{ clientId: string, accessToken: string, refresh: () => Promise<Answer> }> {
  let code: string | null = null
  const app = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/callback') code = url.searchParams.get('code') // not the browser's /favicon.ico after it
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Back in the app</title>')
  })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  try {
    const redirectUri = `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`
    const post = async (path: string, body: string, type: string): Promise<Answer> =>
      await request1(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body })
    const metadata = {
      client_name: 'Console Test App', token_endpoint_auth_method: 'none', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code']
    }
    const registered = await post('/oauth/register', JSON.stringify(metadata), 'application/json')
    assert.equal(registered.status, 201, registered.body)
    const clientId = String(registered.json().client_id)
    const verifier = randomBytes(32).toString('base64url')
    const q = new URLSearchParams({
      client_id: clientId, response_type: 'code', redirect_uri: redirectUri, scope: 'mcp:read offline_access', prompt: 'consent',
      resource: `${node.url}/mcp`, state: 'console-test', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256'
    })
    await page.goto(`${node.url}/oauth/authorize?${q.toString()}`)
    await page.fill('input[name=password]', password)
    await Promise.all([page.waitForURL(/\/interaction\//), page.click('button:has-text("Sign in")')])
    await Promise.all([page.waitForURL((u) => u.pathname === '/callback'), page.click('button[name=decision][value=approve]')])
    assert.ok(code !== null, 'the app got a code')
    const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString()
    const tokens = await post('/oauth/token', form({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier }), FORM)
    assert.equal(tokens.status, 200, tokens.body)
    const t = tokens.json<{ access_token: string, refresh_token: string }>()
    assert.ok(t.refresh_token !== undefined)
    return {
      clientId,
      accessToken: t.access_token,
      refresh: async () => await post('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: clientId }), FORM)
    }
  } finally {
    app.closeAllConnections()
    await new Promise<void>((resolve) => app.close(() => resolve()))
  }
}
