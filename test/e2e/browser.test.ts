// The node's own pages for people (sign-in, consent, device codes) in a real browser: headless
// Chromium driven by playwright-core, against real nodes started with the built CLI. The browser
// trusts exactly the node's certificate (its public key is pinned), nothing else is relaxed.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import { decodePayload } from '../helpers/tokens.ts'
import { Harness, assertAtApp, decide, heading, pkce, signIn, skip, submit } from './browser-lib.ts'

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
