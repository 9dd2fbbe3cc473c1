// The node's own pages for people (sign-in, consent, device codes) in a real browser: headless
// Chromium driven by playwright-core, against real nodes started with the built CLI. The browser
// trusts exactly the node's certificate (its public key is pinned), nothing else is relaxed.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page, type Response } from 'playwright-core'
import { Fleet, setOperatorPassword, type NodeProcess } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { decodePayload } from '../helpers/tokens.ts'

const CHROMIUM = '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : 'Chromium is not installed: apt-get install chromium (CI installs it)'
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

/** A loopback HTTP server: the apps' redirect target, and the other site of the cross-site tests. */
class Site {
  readonly server: Server
  readonly hits: URL[] = []
  readonly pages = new Map<string, { html: string, headers?: Record<string, string> }>()
  origin = ''

  constructor () {
    this.server = createServer((req: IncomingMessage, res) => {
      const url = new URL(req.url ?? '/', this.origin)
      this.hits.push(url)
      const page = this.pages.get(url.pathname)
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...page?.headers })
      res.end(page?.html ?? '<!doctype html><title>Back in the app</title><p>callback received</p>')
    })
  }

  async listen (): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.origin = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`
    return this
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** PKCE (RFC 7636), S256. */
function pkce (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** A node with an operator password, the browser that trusts its key, and an app's redirect target. */
class Harness {
  readonly fleet = new Fleet()
  node!: NodeProcess
  ca = ''
  issuer = ''
  readonly password = randomBytes(18).toString('base64url')
  browser!: Browser
  readonly app = new Site()
  readonly other = new Site()

  async start (): Promise<void> {
    this.node = await this.fleet.start({ args: ['--no-p2p'] })
    this.ca = readFileSync(join(this.node.dataDir, 'tls', 'cert.pem'), 'utf8')
    await setOperatorPassword(this.node.dataDir, this.password)
    const meta = await request1(`${this.node.url}/.well-known/oauth-authorization-server`, { ca: this.ca })
    assert.equal(meta.status, 200, meta.body)
    this.issuer = String(meta.json().issuer)
    await this.app.listen()
    await this.other.listen()
    const spki = createHash('sha256').update(new X509Certificate(this.ca).publicKey.export({ type: 'spki', format: 'der' })).digest('base64')
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage', `--ignore-certificate-errors-spki-list=${spki}`]
    })
  }

  async stop (): Promise<void> {
    await this.browser?.close().catch(() => {})
    await this.app.close().catch(() => {})
    await this.other.close().catch(() => {})
    await this.fleet.cleanup()
  }

  get resource (): string { return `${this.node.url}/mcp` }
  get redirectUri (): string { return `${this.app.origin}/callback` }

  /** A fresh browser profile (no cookies), with CSP violations reported by its pages collected. */
  async context (options: BrowserContextOptions = {}): Promise<{ context: BrowserContext, page: Page, violations: string[] }> {
    const context = await this.browser.newContext(options)
    context.setDefaultTimeout(10_000)
    const violations: string[] = []
    const watch = (p: Page): void => {
      p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(`${p.url()}: ${m.text()}`) })
    }
    context.on('page', watch)
    const page = await context.newPage()
    return { context, page, violations }
  }

  async post (path: string, body: string, type: string): Promise<Answer> {
    return await request1(`${this.node.url}${path}`, { ca: this.ca, method: 'POST', headers: { 'content-type': type }, body })
  }

  /** Registers a public client by RFC 7591, as an app does. */
  async register (metadata: Record<string, unknown>): Promise<string> {
    const res = await this.post('/oauth/register', JSON.stringify({ token_endpoint_auth_method: 'none', ...metadata }), 'application/json')
    assert.equal(res.status, 201, res.body)
    return String(res.json().client_id)
  }

  async registerCodeApp (name = 'Browser Test App'): Promise<string> {
    return await this.register({ client_name: name, redirect_uris: [this.redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] })
  }

  authorizeUrl (clientId: string, scopes: string[], state: string, challenge: string, extra: Record<string, string> = {}): string {
    const q = new URLSearchParams({
      client_id: clientId, response_type: 'code', redirect_uri: this.redirectUri, scope: scopes.join(' '),
      resource: this.resource, state, code_challenge: challenge, code_challenge_method: 'S256', ...extra
    })
    return `${this.node.url}/oauth/authorize?${q.toString()}`
  }

  async token (form: Record<string, string>): Promise<Answer> {
    return await this.post('/oauth/token', new URLSearchParams(form).toString(), 'application/x-www-form-urlencoded')
  }

  /** Whether the app's redirect target was reached with this state. */
  reached (state: string): boolean {
    return this.app.hits.some((u) => u.searchParams.get('state') === state)
  }
}

/**
 * Clicks a submit button and waits for the document it leads to (after any redirects) to load;
 * returns the answer to the POST itself.
 */
async function submit (page: Page, button: string, pathEnd: string): Promise<Response> {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(pathEnd)),
    page.waitForEvent('load'),
    page.click(button)
  ])
  return res
}

/** Clicks Allow or Deny on the consent page and waits for where it leads (the app, or another page of the node). */
async function decide (page: Page, decision: 'approve' | 'deny'): Promise<void> {
  const res = await submit(page, `button[name=decision][value=${decision}]`, '/consent')
  assert.equal(res.status(), 303, `the consent form answered ${res.status()}`)
}

/** Asserts that the browser is back at the app, naming the page it shows otherwise. */
async function assertAtApp (page: Page, h: Harness): Promise<URL> {
  const at = new URL(page.url())
  if (at.origin !== h.app.origin) {
    assert.fail(`the browser did not return to the app; it shows ${at.pathname}: ${(await page.locator('body').innerText()).replace(/\s+/g, ' ').slice(0, 300)}`)
  }
  assert.equal(at.pathname, '/callback')
  return at
}

async function heading (page: Page): Promise<string> {
  return (await page.locator('h1').innerText()).trim()
}

/** Signs in on the sign-in page the browser shows; ends on the next page (consent, or the app). */
async function signIn (page: Page, password: string): Promise<Response> {
  assert.match(await page.title(), /Sign in to approve an app/)
  await page.fill('input[name=password]', password)
  const res = await submit(page, 'button:has-text("Sign in")', '/login')
  assert.equal(res.status(), 303, `sign-in answered ${res.status()}: ${await page.locator('body').innerText()}`)
  return res
}

/** The value of the hidden CSRF field and the action of the page's form. */
async function formOf (page: Page): Promise<{ action: string, csrf: string }> {
  const action = new URL(String(await page.locator('form').first().getAttribute('action')), page.url()).toString()
  return { action, csrf: String(await page.locator('input[name=csrf]').getAttribute('value')) }
}

/** A page on another site that posts a form to the node as soon as it loads. */
function autoPost (action: string, fields: Array<[string, string]>): string {
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
  return `<!doctype html><title>Win a prize</title>
<form method="post" action="${esc(action)}">${fields.map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('')}</form>
<script>document.forms[0].submit()</script>`
}

describe('browser: sign-in and consent pages', { skip }, () => {
  const h = new Harness()
  before(async () => { await h.start() })
  after(async () => { await h.stop() })

  it('shows the sign-in page with a strict CSP and no CSP violations, and says so for a wrong password (401)', async () => {
    const clientId = await h.registerCodeApp()
    const { page, violations } = await h.context()
    const res = await page.goto(h.authorizeUrl(clientId, ['mcp:read'], 'st-csp', pkce().challenge))
    assert.ok(res !== null)
    assert.equal(res.status(), 200)
    assert.match(new URL(page.url()).pathname, /^\/interaction\/[A-Za-z0-9_-]+$/)
    assert.match(await page.title(), /Sign in to approve an app/)
    const policies = await res.headerValues('content-security-policy')
    assert.ok(policies.length > 0, 'a Content-Security-Policy header')
    const directives = policies.join(';').split(';').map((d) => d.trim())
    assert.ok(directives.includes("default-src 'none'"), policies.join(' | '))
    assert.ok(directives.includes("frame-ancestors 'none'"), policies.join(' | '))
    assert.equal(await page.locator('input[type=password][name=password]').count(), 1)
    assert.equal(await page.locator('form input[type=hidden][name=csrf]').count(), 1)
    assert.equal(await page.locator('form').getAttribute('method'), 'post')
    assert.match(String(await page.locator('form').getAttribute('action')), /^\/interaction\/[A-Za-z0-9_-]+\/login$/)
    assert.match(await page.locator('body').innerText(), /Browser Test App/)

    await page.fill('input[name=password]', `${h.password}x`)
    const wrong = await submit(page, 'button:has-text("Sign in")', '/login')
    assert.equal(wrong.status(), 401)
    assert.match(await page.locator('[role=alert]').innerText(), /That password is not right\./)
    assert.match(await page.title(), /Sign in to approve an app/, 'the sign-in form again')
    assert.deepEqual(violations, [], 'no CSP violations in the console')
  })

  it('reports a CSP violation in the console when there is one (the check above can fail)', async () => {
    // A control: the same console listener on a page whose inline style its own CSP forbids.
    h.other.pages.set('/csp-control', { html: '<!doctype html><title>control</title><style>p{color:red}</style><p>x</p>', headers: { 'content-security-policy': "default-src 'none'" } })
    const { page, violations } = await h.context()
    await page.goto(`${h.other.origin}/csp-control`)
    // Console messages arrive asynchronously.
    for (let i = 0; i < 50 && violations.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(violations.length > 0, 'the listener sees a CSP violation')
  })

  it('approves a subset of the scopes: back at the app with code, state and iss; the token has only the subset', async () => {
    const clientId = await h.registerCodeApp()
    const { verifier, challenge } = pkce()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page, violations } = await h.context()
    await page.goto(h.authorizeUrl(clientId, ['mcp:read', 'mcp:call'], state, challenge))
    await signIn(page, h.password)

    assert.equal(await page.title().then((t) => t.startsWith('Allow Browser Test App?')), true, await page.title())
    const text = await page.locator('body').innerText()
    assert.match(text, /Browser Test App/)
    assert.ok(text.includes(clientId), 'the client id is shown')
    assert.match(text, /Registered\s+by itself \(dynamic registration\) on \d{4}-\d{2}-\d{2}/)
    assert.ok(new RegExp(`Returns to\\s+${new URL(h.redirectUri).host.replace(/\./g, '\\.')}`).test(text), text)
    const boxes = page.locator('input[type=checkbox][name=scope]')
    assert.deepEqual(
      await boxes.evaluateAll((els) => els.map((e) => [(e as unknown as { value: string }).value, (e as unknown as { checked: boolean }).checked])),
      [['mcp:read', true], ['mcp:call', true]]
    )
    const { action } = await formOf(page)
    assert.match(new URL(action).pathname, /^\/interaction\/[A-Za-z0-9_-]+\/consent$/)

    await page.uncheck('input[name=scope][value="mcp:call"]')
    await decide(page, 'approve')
    const back = await assertAtApp(page, h)
    assert.equal(back.searchParams.get('state'), state)
    assert.equal(back.searchParams.get('iss'), h.issuer, 'RFC 9207 iss')
    const code = back.searchParams.get('code')
    assert.ok(code !== null && code.length > 10, 'a code')
    assert.equal(back.searchParams.get('error'), null)

    const res = await h.token({ grant_type: 'authorization_code', code, redirect_uri: h.redirectUri, client_id: clientId, code_verifier: verifier })
    assert.equal(res.status, 200, res.body)
    const tokens = res.json<{ access_token: string, scope: string, refresh_token?: string }>()
    const claims = decodePayload(tokens.access_token)
    assert.equal(claims.scope, 'mcp:read', 'only the approved scope')
    assert.equal(claims.client_id, clientId)
    assert.equal(claims.aud, h.resource)
    assert.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access')
    assert.deepEqual(violations, [])
  })

  it('denies: back at the app with error=access_denied and no code', async () => {
    const clientId = await h.registerCodeApp()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page, violations } = await h.context()
    await page.goto(h.authorizeUrl(clientId, ['mcp:read', 'mcp:call'], state, pkce().challenge))
    await signIn(page, h.password)
    assert.match(await heading(page), /^Allow Browser Test App\?$/)
    await decide(page, 'deny')
    const back = await assertAtApp(page, h)
    assert.equal(back.searchParams.get('error'), 'access_denied')
    assert.equal(back.searchParams.get('state'), state)
    assert.equal(back.searchParams.get('code'), null)
    assert.deepEqual(violations, [])
  })

  it('refuses a sign-in form without its CSRF token, and a consent form with a wrong one (403)', async () => {
    const clientId = await h.registerCodeApp()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page } = await h.context()
    await page.goto(h.authorizeUrl(clientId, ['mcp:read'], state, pkce().challenge))
    const signInUrl = page.url()
    await page.locator('input[name=csrf]').evaluate((e) => { (e as unknown as { remove: () => void }).remove() })
    await page.fill('input[name=password]', h.password)
    const noToken = await submit(page, 'button:has-text("Sign in")', '/login')
    assert.equal(noToken.status(), 403)
    assert.match(await page.locator('body').innerText(), /CSRF/)

    // The right password without the token did not sign in: the sign-in page is still there.
    await page.goto(signInUrl)
    assert.match(await page.title(), /Sign in to approve an app/)
    await signIn(page, h.password)
    assert.match(await heading(page), /^Allow /)
    await page.locator('input[name=csrf]').evaluate((e) => { (e as unknown as { value: string }).value = 'A'.repeat(43) })
    const badToken = await submit(page, 'button[name=decision][value=approve]', '/consent')
    assert.equal(badToken.status(), 403)
    assert.match(await page.locator('body').innerText(), /CSRF/)
    assert.equal(h.reached(state), false, 'never sent back to the app')
  })

  it('does not sign in from a form posted by another site, even with the right CSRF token and password', async () => {
    const clientId = await h.registerCodeApp()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page } = await h.context()
    await page.goto(h.authorizeUrl(clientId, ['mcp:read'], state, pkce().challenge))
    const signInUrl = page.url()
    // The worst case: the other site knows the CSRF token and the password; only the
    // SameSite interaction cookie is left between it and a signed-in operator.
    const { action, csrf } = await formOf(page)
    h.other.pages.set('/login-attack', { html: autoPost(action, [['csrf', csrf], ['password', h.password]]) })
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === action),
      page.goto(`${h.other.origin}/login-attack`)
    ])
    await page.waitForURL((u) => u.origin !== h.other.origin)
    assert.ok([400, 403].includes(res.status()), `answered ${res.status()}`)
    assert.match(await page.locator('body').innerText(), /This sign-in has expired or was finished already|CSRF/)
    assert.notEqual(new URL(page.url()).origin, h.app.origin)
    assert.equal(h.reached(state), false)

    // Not signed in: the operator's own tab still shows the sign-in form of the same interaction.
    const again = await page.goto(signInUrl)
    assert.equal(again?.status(), 200)
    assert.match(await page.title(), /Sign in to approve an app/)
  })

  it('does not approve from a consent form posted by another site to a signed-in operator', async () => {
    const clientId = await h.registerCodeApp()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page } = await h.context()
    await page.goto(h.authorizeUrl(clientId, ['mcp:read', 'mcp:call'], state, pkce().challenge))
    await signIn(page, h.password)
    assert.match(await heading(page), /^Allow /)
    const consentUrl = page.url()
    const { action, csrf } = await formOf(page)
    h.other.pages.set('/consent-attack', { html: autoPost(action, [['csrf', csrf], ['decision', 'approve'], ['scope', 'mcp:read'], ['scope', 'mcp:call']]) })
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === action),
      page.goto(`${h.other.origin}/consent-attack`)
    ])
    await page.waitForURL((u) => u.origin !== h.other.origin)
    assert.ok([400, 403].includes(res.status()), `answered ${res.status()}`)
    assert.notEqual(new URL(page.url()).origin, h.app.origin)
    assert.equal(h.reached(state), false, 'no code went to the app')

    // The operator's own consent page is still waiting for a decision.
    await page.goto(consentUrl)
    assert.match(await heading(page), /^Allow Browser Test App\?$/)
  })

  it('is readable on a phone: at 390×844 the sign-in button is visible without horizontal scrolling', async () => {
    const clientId = await h.registerCodeApp('A Browser Test App With A Rather Long Name For A Small Screen')
    const { page } = await h.context({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 })
    await page.goto(h.authorizeUrl(clientId, ['mcp:read'], 'st-phone', pkce().challenge))
    assert.match(await page.title(), /Sign in to approve an app/)
    const button = page.locator('button:has-text("Sign in")')
    assert.equal(await button.isVisible(), true)
    const box = await button.boundingBox()
    assert.ok(box !== null)
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `button at x=${box.x} width=${box.width}`)
    assert.ok(box.y + box.height <= 844, `button below the fold at y=${box.y}`)
    const scrollWidth = await page.evaluate('document.documentElement.scrollWidth') as number
    assert.ok(scrollWidth <= 390, `page is ${scrollWidth}px wide`)
  })
})

describe('browser: without JavaScript, and the device flow', { skip }, () => {
  const h = new Harness()
  before(async () => { await h.start() })
  after(async () => { await h.stop() })

  it('runs the code flow with JavaScript off: sign-in, consent, code, tokens, refresh rotation', async () => {
    const clientId = await h.registerCodeApp()
    const { verifier, challenge } = pkce()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page, violations } = await h.context({ javaScriptEnabled: false })
    // Proof that scripts do not run in this profile: a page whose script would change its title.
    h.other.pages.set('/js-probe', { html: '<!doctype html><title>no script</title><script>document.title = "script ran"</script>' })
    await page.goto(`${h.other.origin}/js-probe`)
    assert.equal(await page.title(), 'no script')

    await page.goto(h.authorizeUrl(clientId, ['mcp:read', 'offline_access'], state, challenge, { prompt: 'consent' }))
    await signIn(page, h.password)
    assert.match(await heading(page), /^Allow Browser Test App\?$/)
    assert.deepEqual(await page.locator('input[name=scope]').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value)), ['mcp:read', 'offline_access'])
    await decide(page, 'approve')
    const back = await assertAtApp(page, h)
    assert.equal(back.searchParams.get('state'), state)
    assert.equal(back.searchParams.get('iss'), h.issuer)
    const code = back.searchParams.get('code')
    assert.ok(code !== null)

    const res = await h.token({ grant_type: 'authorization_code', code, redirect_uri: h.redirectUri, client_id: clientId, code_verifier: verifier })
    assert.equal(res.status, 200, res.body)
    const tokens = res.json<{ access_token: string, refresh_token?: string }>()
    assert.equal(decodePayload(tokens.access_token).scope, 'mcp:read')
    assert.ok(tokens.refresh_token !== undefined, 'a refresh token for offline_access')
    const refreshed = await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId })
    assert.equal(refreshed.status, 200, refreshed.body)
    const rotated = refreshed.json<{ access_token: string, refresh_token?: string }>()
    assert.ok(rotated.refresh_token !== undefined && rotated.refresh_token !== tokens.refresh_token, 'the refresh token rotates')
    assert.equal(decodePayload(rotated.access_token).scope, 'mcp:read')
    assert.deepEqual(violations, [])
  })

  it('connects a device: wrong code first, then the right one, confirm, sign in, approve; the device gets its token', async () => {
    const clientId = await h.register({ client_name: 'Browser Device App', grant_types: [DEVICE_GRANT], response_types: [] })
    const started = await h.post('/oauth/device/auth', new URLSearchParams({ client_id: clientId, scope: 'mcp:read', resource: h.resource }).toString(), 'application/x-www-form-urlencoded')
    assert.equal(started.status, 200, started.body)
    const d = started.json<{ device_code: string, user_code: string, verification_uri: string, interval: number }>()
    assert.match(d.user_code, /^[A-Z]{4}-[A-Z]{4}$/)
    assert.equal(d.verification_uri, `${h.issuer}/oauth/device`)
    const poll = async (): Promise<Answer> => await h.token({ grant_type: DEVICE_GRANT, device_code: d.device_code, client_id: clientId })
    const pending = await poll()
    assert.equal(pending.status, 400)
    assert.equal(pending.json().error, 'authorization_pending')

    const { page, violations } = await h.context()
    await page.goto(d.verification_uri)
    assert.match(await heading(page), /^Connect a device$/)
    // The form must send user_code once: the library rejects a repeated parameter.
    assert.equal(await page.locator('input[name=user_code]').count(), 1, 'exactly one code box on the page')
    const wrongCode = d.user_code.startsWith('BBBB') ? 'CCCC-CCCC' : 'BBBB-BBBB'
    await page.fill('input[name=user_code]', wrongCode)
    await submit(page, 'button[form="op.deviceInputForm"]', '/oauth/device')
    assert.match(await heading(page), /^Connect a device$/)
    assert.match(await page.locator('body').innerText(), /That code is not right/)

    await page.fill('input[name=user_code]', d.user_code)
    await submit(page, 'button[form="op.deviceInputForm"]', '/oauth/device')
    assert.match(await heading(page), /^Connect Browser Device App\?$/)
    assert.equal((await page.locator('code.user-code').innerText()).trim(), d.user_code)
    await submit(page, 'button[form="op.deviceConfirmForm"]:not([name=abort])', '/oauth/device')
    await signIn(page, h.password)
    assert.match(await heading(page), /^Allow Browser Device App\?$/)
    assert.match(await page.locator('body').innerText(), /Returns to\s+its own device/)
    assert.deepEqual(await page.locator('input[name=scope]').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value)), ['mcp:read'])
    await submit(page, 'button[name=decision][value=approve]', '/consent')
    assert.match(await heading(page), /^Device connected$/)
    assert.match(await page.locator('body').innerText(), /Browser Device App is connected/)

    const done = await poll()
    assert.equal(done.status, 200, done.body)
    const claims = decodePayload(done.json<{ access_token: string }>().access_token)
    assert.equal(claims.scope, 'mcp:read')
    assert.equal(claims.client_id, clientId)
    assert.equal(claims.aud, h.resource)
    assert.deepEqual(violations, [])
  })
})

describe('browser: sign-in lockout', { skip }, () => {
  const h = new Harness()
  before(async () => { await h.start() })
  after(async () => { await h.stop() })

  it('locks sign-in from this address for a minute after 5 wrong passwords (429, Retry-After), even for the right password', async () => {
    const clientId = await h.registerCodeApp()
    const state = `st-${randomBytes(6).toString('hex')}`
    const { page } = await h.context()
    await page.goto(h.authorizeUrl(clientId, ['mcp:read'], state, pkce().challenge))
    for (let i = 1; i <= 4; i++) {
      await page.fill('input[name=password]', `wrong password number ${i}`)
      const res = await submit(page, 'button:has-text("Sign in")', '/login')
      assert.equal(res.status(), 401, `attempt ${i}`)
      assert.match(await page.locator('[role=alert]').innerText(), /That password is not right\./)
    }
    await page.fill('input[name=password]', 'wrong password number 5')
    const fifth = await submit(page, 'button:has-text("Sign in")', '/login')
    assert.equal(fifth.status(), 429)
    // Only this address: other addresses are not locked out (test/attack/http-limits.test.ts shows it).
    assert.match(await page.locator('body').innerText(), /Too many wrong passwords: sign-in from your address is locked for 1 minute\./)
    const retryAfter = Number(await fifth.headerValue('retry-after'))
    assert.ok(retryAfter > 50 && retryAfter <= 60, `Retry-After: ${retryAfter}`)

    await page.fill('input[name=password]', h.password)
    const right = await submit(page, 'button:has-text("Sign in")', '/login')
    assert.equal(right.status(), 429, 'the right password is refused while locked')
    assert.match(await page.locator('body').innerText(), /Too many wrong passwords/)
    assert.equal(h.reached(state), false)
  })
})
