// What the two browser test files share (browser.test.ts: the sign-in and consent pages;
// browser-flows.test.ts: the flows without JavaScript, the device flow and the sign-in lockout):
// the node, the browser that trusts its key and the app's pages, and the steps a person takes. Not a test.
import assert from 'node:assert/strict'
import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page, type Response } from 'playwright-core'
import { Fleet, setOperatorPassword, type NodeProcess } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'

const CHROMIUM = '/usr/bin/chromium'
export const skip = existsSync(CHROMIUM) ? false : 'Chromium is not installed: apt-get install chromium (CI installs it)'

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
export function pkce (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** A node with an operator password, the browser that trusts its key, and an app's redirect target. */
export class Harness {
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
export async function submit (page: Page, button: string, pathEnd: string): Promise<Response> {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(pathEnd)),
    page.waitForEvent('load'),
    page.click(button)
  ])
  return res
}

/** Clicks Allow or Deny on the consent page and waits for where it leads (the app, or another page of the node). */
export async function decide (page: Page, decision: 'approve' | 'deny'): Promise<void> {
  const res = await submit(page, `button[name=decision][value=${decision}]`, '/consent')
  assert.equal(res.status(), 303, `the consent form answered ${res.status()}`)
}

/** Asserts that the browser is back at the app, naming the page it shows otherwise. */
export async function assertAtApp (page: Page, h: Harness): Promise<URL> {
  const at = new URL(page.url())
  if (at.origin !== h.app.origin) {
    assert.fail(`the browser did not return to the app; it shows ${at.pathname}: ${(await page.locator('body').innerText()).replace(/\s+/g, ' ').slice(0, 300)}`)
  }
  assert.equal(at.pathname, '/callback')
  return at
}

export async function heading (page: Page): Promise<string> {
  return (await page.locator('h1').innerText()).trim()
}

/** Signs in on the sign-in page the browser shows; ends on the next page (consent, or the app). */
export async function signIn (page: Page, password: string): Promise<Response> {
  assert.match(await page.title(), /Sign in to approve an app/)
  await page.fill('input[name=password]', password)
  const res = await submit(page, 'button:has-text("Sign in")', '/login')
  assert.equal(res.status(), 303, `sign-in answered ${res.status()}: ${await page.locator('body').innerText()}`)
  return res
}
