// The operator's console in a real browser: headless Chromium (playwright-core) against a hive
// of three real nodes on loopback, started with the built CLI. The browser trusts exactly node
// A's certificate (its public key is pinned); axe-core checks accessibility.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { chromium, type Browser } from 'playwright-core'
import { AxeBuilder } from '@axe-core/playwright'
import { CLI, Fleet, cleanEnv, setOperatorPassword, type NodeProcess } from '../helpers/cli.ts'
import { eventually } from '../helpers/eventually.ts'
import { request1 } from '../helpers/https.ts'
import { getToken } from '../helpers/tokens.ts'
import { ConsoleBrowser, grantFor, SECTIONS } from '../helpers/console-browser.ts'

const exec = promisify(execFile)
const CHROMIUM = '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : 'Chromium is not installed: apt-get install chromium (CI installs it)'
const OTHER_ORIGIN = 'https://app.example.test'

describe('the operator\'s console', { skip }, () => {
  const fleet = new Fleet()
  const password = randomBytes(18).toString('base64url')
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let browser: Browser
  let ui: ConsoleBrowser

  const cli = async (node: NodeProcess, args: string[], env: Record<string, string> = {}): Promise<string> =>
    (await exec(process.execPath, [CLI, ...args, '--data-dir', node.dataDir], { env: cleanEnv(env), timeout: 30_000 })).stdout
  const members = async (node: NodeProcess): Promise<Array<{ peer_id: string, status: string }>> =>
    (JSON.parse(await cli(node, ['hive', 'members', '--json'])) as { members: Array<{ peer_id: string, status: string }> }).members
  const start = async (name: string, args: string[], env: Record<string, string> = {}): Promise<NodeProcess> =>
    await fleet.start({ args: ['--name', name, '--peer-offline-after', '5s', ...args], env: cleanEnv(env) })
  const invite = async (): Promise<string> => (JSON.parse(await cli(a, ['hive', 'invite', '--json'])) as { token: string }).token

  before(async () => {
    // A lets one other origin use its API by CORS: the console must not be reachable that way.
    // Its sign-in limit is raised: these tests sign in more often than a person would in a minute.
    a = await start('node-a', ['--cors-origin', OTHER_ORIGIN, '--sign-in-rate-limit', '500'])
    await setOperatorPassword(a.dataDir, password)
    await cli(a, ['hive', 'init'])
    const bootstrap = ['--bootstrap', a.ready.p2p_addrs[0]!]
    ;[b, c] = await Promise.all([
      start('node-b', bootstrap, { EDGE_HIVE_JOIN_TOKEN: await invite() }),
      start('node-c', bootstrap, { EDGE_HIVE_JOIN_TOKEN: await invite() })
    ])
    const seen = await eventually(async () => await members(a), (m) => m.filter((x) => x.status === 'online').length === 2, 30_000, 250)
    assert.equal(seen.filter((x) => x.status === 'online').length, 2, `B and C online on A: ${JSON.stringify(seen)}`)
    const ca = readFileSync(join(a.dataDir, 'tls', 'cert.pem'), 'utf8')
    const spki = createHash('sha256').update(new X509Certificate(ca).publicKey.export({ type: 'spki', format: 'der' })).digest('base64')
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage', `--ignore-certificate-errors-spki-list=${spki}`]
    })
    ui = new ConsoleBrowser(browser, a.url, ca, password)
  })
  after(async () => {
    await browser?.close().catch(() => {})
    await fleet.cleanup()
  })

  it('refuses a wrong password (401) and signs in with the right one into a Secure, HttpOnly, SameSite=Strict session', async () => {
    const { context, page } = await ui.context()
    await page.goto(`${a.url}/console/agents`)
    assert.equal(new URL(page.url()).pathname, '/console/sign-in', 'a page without a session leads to the sign-in page')
    await page.fill('input[name=password]', 'not the password at all')
    const wrong = await ui.submit(page, 'button:has-text("Sign in")')
    assert.equal(wrong.status(), 401)
    assert.match(await page.locator('[role=alert]').innerText(), /not right/)
    await ui.signIn(page)
    assert.equal(new URL(page.url()).pathname, '/console/agents', 'back to the page that was asked for')
    const cookie = (await context.cookies()).find((k) => k.name.startsWith('edge_hive_console_'))
    assert.ok(cookie !== undefined)
    assert.equal(cookie.name, `edge_hive_console_${a.ready.node_id.replace(/-/g, '_')}`, 'named for the node: two nodes on one host keep apart')
    assert.equal(cookie.secure, true)
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.sameSite, 'Strict')
    assert.equal(cookie.path, '/console')
    assert.equal(cookie.expires, -1, 'a session cookie: it ends with the browser, and the node ends it when idle')
    await context.close()
  })

  it('draws the hive and lists its members as the hive sees them', async () => {
    const { context, page } = await ui.signedIn('/console/hive')
    const want = await members(a)
    assert.equal(want.length, 3)
    for (const m of want) {
      const row = page.locator(`tr[data-peer="${m.peer_id}"]`)
      assert.equal(await row.count(), 1, `a row for ${m.peer_id}`)
      assert.equal((await row.locator('.status').innerText()).trim(), m.status === 'self' ? 'this node' : m.status)
      assert.equal(await page.locator(`svg.hive g[data-peer="${m.peer_id}"]`).getAttribute('data-status'), m.status)
    }
    assert.match(await page.locator('#hive-picture-title').textContent() ?? '', /3 members: 2 online, 0 offline/)
    const rowB = await page.locator(`tr[data-peer="${b.ready.peer_id}"]`).innerText()
    assert.match(rowB, /node-b/, 'named as its advert says')
    assert.match(rowB, new RegExp(b.ready.node_id))
    assert.match(rowB, /get_status/, 'with the tools it offers')
    await context.close()
  })

  it('turns a killed member offline on the open page, without a reload', async () => {
    const { context, page } = await ui.signedIn('/console/hive')
    await page.locator('#live-state:has-text("Live")').waitFor()
    await page.evaluate(() => { (globalThis as unknown as { stayed: boolean }).stayed = true })
    await c.kill()
    await page.locator(`tr[data-peer="${c.ready.peer_id}"] .status:has-text("offline")`).waitFor({ timeout: 60_000 })
    assert.equal(await page.locator(`svg.hive g[data-peer="${c.ready.peer_id}"]`).getAttribute('data-status'), 'offline')
    assert.equal(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed), true, 'the page was not reloaded')
    await context.close()
  })

  it('adds an agent (secret shown once), rotates its secret and revokes it: the revoked agent\'s token stops', async () => {
    const { context, page } = await ui.signedIn('/console/agents')
    await page.fill('input[name=name]', 'console-made')
    await page.uncheck('input[name=scope][value="mcp:call"]')
    const added = await ui.submit(page, 'button:has-text("Add the agent")')
    assert.equal(added.status(), 303, 'the post leads to the page that shows the secret once')
    assert.equal(new URL(page.url()).pathname, '/console/shown')
    const id = (await page.locator('#client-id').innerText()).trim()
    const secret = (await page.locator('#client-secret').innerText()).trim()
    const again = await page.reload()
    assert.equal(again?.status(), 410, 'a reload neither shows the secret again nor adds another agent')
    assert.ok(!(await page.content()).includes(secret))
    const first = await getToken(a.url, id, secret)
    assert.equal(first.status, 200, first.body)
    assert.equal(first.json().scope, 'mcp:read mcp:resources')
    await page.goto(`${a.url}/console/agents`)
    assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again')

    await page.goto(`${a.url}/console/agents/${encodeURIComponent(id)}/rotate`)
    await ui.submit(page, 'button:has-text("Rotate the secret")')
    const rotated = (await page.locator('#client-secret').innerText()).trim()
    assert.notEqual(rotated, secret)
    assert.equal((await getToken(a.url, id, secret)).status, 401, 'the old secret stopped')
    const token = (await getToken(a.url, id, rotated)).json<{ access_token: string }>().access_token
    const info = async (): Promise<number> => (await request1(`${a.url}/hive`, { headers: { authorization: `Bearer ${token}` } })).status
    assert.equal(await info(), 200)

    await page.goto(`${a.url}/console/agents/${encodeURIComponent(id)}/revoke`)
    const revoked = await ui.submit(page, 'button:has-text("Revoke")')
    assert.equal(revoked.status(), 303)
    assert.equal((await page.locator(`tr[data-client="${id}"] .status`).innerText()).trim(), 'revoked')
    assert.equal(await info(), 401, 'its live token stopped at once')
    await context.close()
  })

  it('withdraws an app\'s approval: its refresh token and access token stop', async () => {
    const { context, page } = await ui.signedIn('/console/apps')
    const grant = await grantFor(a, page, password)
    await page.goto(`${a.url}/console/apps`)
    assert.equal((await request1(`${a.url}/hive`, { headers: { authorization: `Bearer ${grant.accessToken}` } })).status, 200, 'the app\'s token works before')
    const row = page.locator('tr[data-grant]', { hasText: grant.clientId })
    assert.equal(await row.count(), 1, 'the approval is listed')
    const rotate = await page.goto(`${a.url}/console/agents/${encodeURIComponent(grant.clientId)}/rotate`)
    assert.equal(rotate?.status(), 409, 'an app that registered itself has no secret to rotate, and is told so before any form')
    assert.match(await page.locator('[role=alert]').innerText(), /registered itself/)
    await page.goto(`${a.url}/console/apps`)
    await row.locator('a:has-text("Revoke")').click()
    await ui.submit(page, 'button:has-text("Withdraw")')
    assert.match(await page.locator('[role=status]').first().innerText(), /withdrawn/)
    assert.equal(await page.locator('tr[data-grant]', { hasText: grant.clientId }).count(), 0)
    assert.equal((await request1(`${a.url}/hive`, { headers: { authorization: `Bearer ${grant.accessToken}` } })).status, 401)
    assert.equal((await grant.refresh()).status, 400, 'the refresh token is refused (invalid_grant)')
    await context.close()
  })

  it('makes an invitation a new node joins with, and removes that member after confirmation', async () => {
    const { context, page } = await ui.signedIn('/console/hive')
    const made = await ui.submit(page, 'button:has-text("Make an invitation")')
    assert.equal(made.status(), 303)
    const token = (await page.locator('#invitation').innerText()).trim()
    assert.equal((await page.locator('#join-command').innerText()).trim(), `EDGE_HIVE_JOIN_TOKEN='${token}' edge-hive serve`)
    // Started as the page says: the invitation alone leads the new node to this one.
    const d = await start('node-d', [], { EDGE_HIVE_JOIN_TOKEN: token })
    await page.goto(`${a.url}/console/hive`)
    await page.locator(`tr[data-peer="${d.ready.peer_id}"] .status:has-text("online")`).waitFor({ timeout: 60_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\nA's members: ${JSON.stringify(await members(a))}\nD's log: ${d.stdout.slice(-3000)}`)
    })
    await page.locator(`tr[data-peer="${d.ready.peer_id}"] a:has-text("Remove")`).click()
    assert.match(await page.locator('h1').innerText(), /Remove node-d\?/)
    await ui.submit(page, 'button:has-text("Remove the member")')
    assert.match(await page.locator('[role=status]').first().innerText(), /removed/)
    assert.equal(await page.locator(`tr[data-peer="${d.ready.peer_id}"]`).count(), 0)
    assert.ok(!(await members(a)).some((m) => m.peer_id === d.ready.peer_id), 'the hive no longer lists it')
    await d.kill()
    await context.close()
  })

  it('shows token grants, tool calls and refusals on the activity page as they happen, and filters by client', async () => {
    const { context, page } = await ui.signedIn('/console/activity')
    await page.locator('#live-state:has-text("Live")').waitFor()
    await page.evaluate(() => { (globalThis as unknown as { stayed: boolean }).stayed = true })
    const chart = async (): Promise<{ calls: number, refused: number }> => {
      const title = await page.locator('#chart-title').textContent() ?? ''
      return { calls: Number(/(\d+) tool calls/.exec(title)?.[1]), refused: Number(/(\d+) refused/.exec(title)?.[1]) }
    }
    const before = await chart()
    const added = JSON.parse(await cli(a, ['clients', 'add', '--name', 'activity-probe', '--scopes', 'mcp:read,mcp:call', '--json'])) as { client: { client_id: string }, client_secret: string }
    const id = added.client.client_id
    const token = (await getToken(a.url, id, added.client_secret)).json<{ access_token: string }>().access_token
    await page.locator('#activity-list tr', { hasText: id }).filter({ hasText: 'token.issued' }).waitFor({ timeout: 30_000 })
    const called = await request1(`${a.url}/mcp/tools/call`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'get_status', arguments: {} })
    })
    assert.equal(called.status, 200, called.body)
    assert.equal((await request1(`${a.url}/hive`, { headers: { authorization: 'Bearer not-a-token' } })).status, 401)
    const seen = await eventually(chart, (n) => n.calls > before.calls && n.refused > before.refused, 30_000, 250)
    assert.ok(seen.calls > before.calls, `the chart counts the call: ${before.calls} before, ${seen.calls} after`)
    assert.ok(seen.refused > before.refused, `the chart counts the refusal: ${before.refused} before, ${seen.refused} after`)
    assert.equal(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed), true, 'the page was not reloaded')

    await page.fill('input[name=client]', id)
    await Promise.all([page.waitForURL(/client=/), page.click('button:has-text("Filter")')])
    const rows = await page.locator('#activity-list tbody tr').allInnerTexts()
    assert.ok(rows.length >= 2, `client.added and token.issued at least: ${rows.join(' | ')}`)
    for (const r of rows) assert.ok(r.includes(id), `only entries of that client: ${r}`)
    await context.close()
  })

  it('refuses a change without the session\'s CSRF token, with another one, or from another site, and changes nothing', async () => {
    const { context, page } = await ui.signedIn('/console/agents')
    const csrf = String(await page.locator('input[name=csrf]').first().getAttribute('value'))
    const count = async (): Promise<number> => ((await ui.request(context, '/console/agents')).body.match(/<tr data-client=/g) ?? []).length
    const before = await count()
    assert.ok(before > 0, 'the request outside the browser is signed in')
    const post = async (form: Record<string, string>, headers: Record<string, string> = {}): Promise<number> =>
      (await ui.request(context, '/console/agents', { form: { name: 'csrf-probe', scope: 'mcp:read', ...form }, headers })).status
    assert.equal(await post({}), 403, 'no token')
    assert.equal(await post({ csrf: randomBytes(32).toString('base64url') }), 403, 'a token of no session')
    assert.equal(await post({ csrf }, { 'sec-fetch-site': 'cross-site' }), 403, 'the right token, from another site')
    const other = await ui.context()
    await ui.signIn(other.page, '/console/agents')
    const theirs = String(await other.page.locator('input[name=csrf]').first().getAttribute('value'))
    assert.equal(await post({ csrf: theirs }), 403, 'another session\'s token')
    await other.context.close()
    assert.equal(await count(), before, 'no client was added')
    // Without the cookie (SameSite=Strict keeps it from other sites) a post is sent to sign in.
    const bare = await request1(`${a.url}/console/agents`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}&name=x&scope=mcp:read` })
    assert.equal(bare.status, 303)
    assert.equal(bare.headers.location, '/console/sign-in')
    assert.equal(await count(), before)
    assert.equal(await post({ csrf }), 303, 'the control: with its own token, from its own pages, the same post adds the client')
    assert.equal(await count(), before + 1)
    await context.close()
  })

  it('limits sign-in posts per address (B keeps the default of 20 a minute)', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 21; i++) {
      const r = await request1(`${b.url}/console/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x&password=wrong-password-here' })
      statuses.push(r.status)
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(403), 'refused for the form token before the password is looked at')
    assert.equal(statuses[20], 429)
  })

  it('answers no CORS on console pages, though the API allows an origin', async () => {
    const headers = { origin: OTHER_ORIGIN, 'access-control-request-method': 'POST' }
    const api = await request1(`${a.url}/mcp/node/info`, { method: 'OPTIONS', headers })
    assert.equal(api.headers['access-control-allow-origin'], OTHER_ORIGIN, 'the API does (the control)')
    for (const [method, path] of [['OPTIONS', '/console/agents'], ['GET', '/console/sign-in'], ['GET', '/console/events']] as const) {
      const r = await request1(`${a.url}${path}`, { method, headers })
      assert.equal(r.headers['access-control-allow-origin'], undefined, `${method} ${path}`)
    }
    assert.equal((await request1(`${a.url}/console/events`)).status, 401, 'no live stream without a session')
  })

  it('has no CSP violations and no serious or critical accessibility violations on any page', async () => {
    const { context, page, violations } = await ui.signedIn('/console/hive')
    for (const section of SECTIONS) {
      const res = await page.goto(`${a.url}/console/${section}`)
      assert.match(String(res?.headers()['content-security-policy']), /default-src 'none'.*script-src 'sha256-/)
      const found = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      assert.deepEqual(found.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe on ${section}`)
    }
    const out = await ui.submit(page, 'button:has-text("Sign out")')
    assert.equal(out.status(), 303)
    assert.equal(new URL(page.url()).pathname, '/console/sign-in', 'signed out')
    assert.deepEqual(violations, [])
    await context.close()
    const signedOut = await ui.context()
    await signedOut.page.goto(`${a.url}/console/sign-in`)
    const found = (await new AxeBuilder({ page: signedOut.page }).analyze()).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    assert.deepEqual(found.map((v) => v.id), [], 'axe on the sign-in page')
    await signedOut.context.close()
  })

  it('fits a phone\'s width: no page scrolls sideways', async () => {
    const { context, page } = await ui.signedIn('/console/hive', { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true })
    for (const section of SECTIONS) {
      await page.goto(`${a.url}/console/${section}`)
      const { scroll, width } = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number, clientWidth: number } } }).document.documentElement
        return { scroll: root.scrollWidth, width: root.clientWidth }
      })
      assert.ok(scroll <= width, `${section}: the page is ${scroll} px wide on a ${width} px screen`)
    }
    await context.close()
  })

  it('works with the keyboard alone: sign in, go to Agents, add one', async () => {
    const { context, page } = await ui.context()
    await page.goto(`${a.url}/console/sign-in`)
    // The password field takes the focus as the page opens (autofocus); on a busy machine that
    // may come a moment after the load event, and keys typed before it would be lost.
    const field = page.locator('input[name=password]')
    const focused = await eventually(async () => await field.evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement), (f) => f, 10_000, 50)
    assert.ok(focused, 'the password field has the focus when the page opens')
    await page.keyboard.type(password)
    await Promise.all([page.waitForURL(/\/console\/hive$/), page.keyboard.press('Enter')])
    await ui.tabTo(page, 'a[href="/console/agents"]')
    await Promise.all([page.waitForURL(/\/console\/agents$/), page.keyboard.press('Enter')])
    await ui.tabTo(page, 'input[name=name]')
    await page.keyboard.type('keyboard-made')
    await ui.tabTo(page, 'button:has-text("Add the agent")')
    await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')])
    await page.locator('#client-secret').waitFor()
    assert.match(await page.locator('h2').first().innerText(), /Agent added: keyboard-made/)
    await context.close()
  })

  it('works without JavaScript: sign in, see the hive, add an agent', async () => {
    const { context, page } = await ui.signedIn('/console/hive', { javaScriptEnabled: false })
    assert.equal(await page.locator('tr[data-peer]').count(), (await members(a)).length)
    await page.goto(`${a.url}/console/agents`)
    await page.fill('input[name=name]', 'no-script')
    assert.equal((await ui.submit(page, 'button:has-text("Add the agent")')).status(), 303)
    assert.match(await page.locator('#client-secret').innerText(), /\S{20,}/)
    await context.close()
  })

  it('ends every console sign-in when the operator password changes', async () => {
    const { context, page } = await ui.signedIn('/console/node')
    const fresh = randomBytes(18).toString('base64url')
    await setOperatorPassword(a.dataDir, fresh)
    ui.password = fresh
    await page.goto(`${a.url}/console/node`)
    assert.equal(new URL(page.url()).pathname, '/console/sign-in')
    await context.close()
  })
})
