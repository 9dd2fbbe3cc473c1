// The node's own pages for people (sign-in, consent, device codes) in a real browser: headless
// Chromium driven by playwright-core, against real nodes started with the built CLI. The browser
// trusts exactly the node's certificate (its public key is pinned), nothing else is relaxed.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Answer } from '../helpers/https.ts'
import { decodePayload } from '../helpers/tokens.ts'
import { Harness, assertAtApp, decide, heading, pkce, signIn, skip, submit } from './browser-lib.ts'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

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
