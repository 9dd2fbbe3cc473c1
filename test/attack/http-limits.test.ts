// Issue #12, findings 4 and 5, from the outside: real nodes (in this process, with serve's flags:
// test/helpers/in-process.ts), real HTTPS over node:https and node:http2. Limits kept per source
// address are shown from several addresses at once by binding the client to other loopback
// addresses (127.0.0.2, 127.0.0.3...: the whole of 127.0.0.0/8 is loopback on Linux). Time limits
// are shrunk by settings, and every time bound is asserted with a wide margin, so a busy machine
// does not fail them.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Fleet, setOperatorPassword, type TestNode } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { eventually } from '../helpers/eventually.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'
import { FORM, caOf, fresh, from, sleep } from './http-limits-lib.ts'

const fleet = new Fleet()
after(async () => { await fleet.cleanup() })

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

/** Registers a public app (RFC 7591) from `address`. */
async function register (node: TestNode, address: string, metadata: Record<string, unknown> = {}): Promise<Answer> {
  return await from(address, node, '/oauth/register', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token_endpoint_auth_method: 'none', client_name: 'Limits Test', redirect_uris: ['http://127.0.0.1:9/callback'], grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'], response_types: ['code'], ...metadata })
  })
}

function authorizePath (node: TestNode, clientId: string): string {
  const q = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: 'http://127.0.0.1:9/callback', scope: 'mcp:read', resource: `${node.url}/mcp`,
    state: 's', code_challenge: randomBytes(32).toString('base64url'), code_challenge_method: 'S256'
  })
  return `/oauth/authorize?${q.toString()}`
}

/** A person's browser at one address: a cookie jar, the node's own forms, redirects by hand. */
class Browser {
  readonly jar = new Map<string, string>()
  readonly node: TestNode
  readonly address: string

  constructor (node: TestNode, address: string) {
    this.node = node
    this.address = address
  }

  async go (url: string, form?: Record<string, string>): Promise<Answer & { url: string }> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await request1(url, {
      method: form === undefined ? 'GET' : 'POST', ca: caOf(this.node), tls: { localAddress: this.address },
      headers: { ...(cookie === '' ? {} : { cookie }), ...(form === undefined ? {} : { 'content-type': FORM }) },
      ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() })
    })
    const set = res.headers['set-cookie']
    for (const c of Array.isArray(set) ? set : set === undefined ? [] : [set]) {
      // The node clears an old copy of its trusted-browser cookie at another path (Max-Age=0):
      // that must not clobber the copy it set in the same answer.
      if (/;\s*max-age=0\s*(;|$)/i.test(c)) continue
      const pair = c.split(';')[0]!
      const eq = pair.indexOf('=')
      this.jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1))
    }
    return { ...res, url }
  }

  /** Starts an authorization for `clientId` and returns the sign-in form (its action and CSRF token). */
  async signInPage (clientId: string): Promise<{ action: string, csrf: string }> {
    let res = await this.go(`${this.node.url}${authorizePath(this.node, clientId)}`)
    for (let i = 0; i < 5 && res.status >= 300 && res.status < 400; i++) res = await this.go(new URL(String(res.headers.location), res.url).toString())
    assert.equal(res.status, 200, `sign-in page: ${res.status} ${res.body.slice(0, 300)}`)
    const action = /action="([^"]+)"/.exec(res.body)?.[1]
    const csrf = /name="csrf" value="([^"]*)"/.exec(res.body)?.[1]
    assert.ok(action !== undefined && csrf !== undefined, 'the page has the sign-in form')
    return { action: new URL(action, this.node.url).toString(), csrf }
  }

  async signIn (clientId: string, password: string): Promise<Answer> {
    const page = await this.signInPage(clientId)
    return await this.go(page.action, { csrf: page.csrf, password })
  }
}

describe('OAuth endpoints: both limits, per address and per client id (finding 4)', () => {
  it('limits self-registrations per source address (30 in 10 minutes), whatever each registers', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p'] })
    const statuses: number[] = []
    for (let i = 0; i < 31; i++) statuses.push((await register(node, '127.0.0.2', { client_name: fresh('app-') })).status)
    assert.deepEqual(statuses.slice(0, 30), Array(30).fill(201), 'thirty registrations are served')
    assert.equal(statuses[30], 429, 'the thirty-first from the same address is refused')
    assert.equal((await register(node, '127.0.0.3')).status, 201, 'another address still registers')
  })

  it('limits token requests per source address, even when each names a new client id', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--token-rate-limit', '3'] })
    const token = async (address: string, how: 'basic' | 'post'): Promise<number> => (await from(address, node, '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': FORM, ...(how === 'basic' ? { authorization: basic(fresh('nobody-'), 'x') } : {}) },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...(how === 'post' ? { client_id: fresh('nobody-'), client_secret: 'x' } : {}) }).toString()
    })).status
    assert.deepEqual([await token('127.0.0.2', 'basic'), await token('127.0.0.2', 'post'), await token('127.0.0.2', 'basic'), await token('127.0.0.2', 'post')], [401, 401, 401, 429])
    // The seed's JSON token route shares the token allowance.
    const seed = await from('127.0.0.2', node, '/mcp/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: fresh('nobody-'), client_secret: 'x' })
    })
    assert.equal(seed.status, 429)
    assert.equal(seed.json().error, 'rate_limited')
    assert.equal(await token('127.0.0.3', 'post'), 401, 'another address is answered')
  })

  it('limits accepted token requests per client id across addresses, and a stranger naming that client cannot use up its allowance', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--token-rate-limit', '2'] })
    const op = operatorClient(node.dataDir)
    const token = async (address: string, secret: string): Promise<number> => (await from(address, node, '/oauth/token', {
      method: 'POST', headers: { 'content-type': FORM, authorization: basic(op.client_id, secret) }, body: 'grant_type=client_credentials'
    })).status
    // Wrong secrets naming the operator's client, from two addresses: refused, but not counted against it.
    assert.deepEqual([await token('127.0.0.5', 'wrong'), await token('127.0.0.5', 'wrong'), await token('127.0.0.6', 'wrong')], [401, 401, 401])
    assert.equal(await token('127.0.0.2', op.client_secret), 200)
    assert.equal(await token('127.0.0.3', op.client_secret), 200)
    const third = await from('127.0.0.4', node, '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': FORM, authorization: basic(op.client_id, op.client_secret) },
      body: 'grant_type=client_credentials'
    })
    assert.equal(third.status, 429, 'the client\'s third token in the window, from a third address')
    assert.match(String(third.headers['retry-after']), /^\d+$/)
  })

  it('answers an endpoint\'s path in other letter case or with a trailing slash with 404, so no request passes by its endpoint\'s limits', async () => {
    // The authorization server's own router would serve these (it folds case and drops one
    // trailing slash); the node's routes and their limits match exact paths only.
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--token-rate-limit', '1'] })
    const op = operatorClient(node.dataDir)
    const token = async (path: string): Promise<Answer> => await from('127.0.0.2', node, path, {
      method: 'POST', headers: { 'content-type': FORM, authorization: basic(op.client_id, op.client_secret) }, body: 'grant_type=client_credentials'
    })
    assert.equal((await token('/oauth/token')).status, 200)
    assert.equal((await token('/oauth/token')).status, 429, 'the address\'s one token request in the window is used')
    for (const path of ['/oauth/token/', '/oauth/Token', '/oauth/TOKEN/', '/oauth/revoke/', '/oauth/Introspect', '/oauth/device/Auth']) {
      const res = await token(path)
      assert.equal(res.status, 404, `${path}: ${res.body}`)
      assert.equal(res.json().error, 'not_found', path)
    }
    for (const path of ['/oauth/register/', '/oauth/Register']) {
      const res = await from('127.0.0.3', node, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'] }) })
      assert.equal(res.status, 404, `${path}: ${res.body}`)
    }
    assert.equal((await from('127.0.0.3', node, `${authorizePath(node, 'nobody').replace('/oauth/authorize', '/oauth/Authorize/')}`)).status, 404)
  })

  it('limits every other OAuth endpoint and the sign-in pages per source address', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--token-rate-limit', '3'] })
    const form = (params: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams(params).toString() })
    const endpoints: Array<[string, () => { method?: string, headers?: Record<string, string>, body?: string }]> = [
      ['/oauth/revoke', () => ({ ...form({ token: 'x', client_id: fresh('nobody-') }) })],
      ['/oauth/introspect', () => ({ ...form({ token: 'x' }), headers: { 'content-type': FORM, authorization: basic(fresh('nobody-'), 'x') } })],
      ['/oauth/device/auth', () => form({ client_id: fresh('nobody-') })],
      ['/oauth/authorize', () => ({})],
      ['/oauth/jwks', () => ({})],
      ['/oauth/device', () => ({})],
      ['/.well-known/oauth-authorization-server', () => ({})],
      ['/interaction/aaaaaaaaaaaaaaaa', () => ({})]
    ]
    let octet = 10
    for (const [path, request] of endpoints) {
      const address = `127.0.0.${octet++}`
      const statuses: number[] = []
      for (let i = 0; i < 4; i++) {
        const p = path === '/oauth/authorize' ? authorizePath(node, fresh('nobody-')) : path
        statuses.push((await from(address, node, p, request())).status)
      }
      assert.ok(statuses.slice(0, 3).every((s) => s !== 429), `${path}: the first three are answered (${statuses.join(', ')})`)
      assert.equal(statuses[3], 429, `${path}: the fourth from one address is refused`)
    }
  })

  it('limits accepted device authorizations and authorizations per client id, across addresses', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--token-rate-limit', '2'] })
    const deviceApp = String((await register(node, '127.0.0.2')).json().client_id)
    const device = async (address: string, clientId: string): Promise<number> => (await from(address, node, '/oauth/device/auth', {
      method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ client_id: clientId, scope: 'mcp:read' }).toString()
    })).status
    assert.deepEqual([await device('127.0.0.3', deviceApp), await device('127.0.0.4', deviceApp), await device('127.0.0.5', deviceApp)], [200, 200, 429])

    const codeApp = String((await register(node, '127.0.0.2')).json().client_id)
    const authorize = async (address: string): Promise<number> => (await from(address, node, authorizePath(node, codeApp))).status
    assert.deepEqual([await authorize('127.0.0.6'), await authorize('127.0.0.7'), await authorize('127.0.0.8')], [303, 303, 429])
  })

  it('sums a flood of refused token requests into a few audit entries', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--rate-limit-window', '10s'] })
    const op = operatorClient(node.dataDir)
    for (let i = 0; i < 40; i++) {
      const r = await from('127.0.0.2', node, '/oauth/token', { method: 'POST', headers: { 'content-type': FORM, authorization: basic(fresh('nobody-'), 'x') }, body: 'grant_type=client_credentials' })
      assert.equal(r.status, 401)
    }
    const access = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const refusals = async (): Promise<Array<{ source?: string, detail?: { refused?: number } }>> => {
      const res = await request1(`${node.url}/mcp/node/${node.ready.node_id}/resources/${encodeURIComponent('edge-hive://logs/latest')}`, { ca: caOf(node), headers: { authorization: `Bearer ${access}` } })
      assert.equal(res.status, 200, res.body)
      return res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { action: string, source?: string, detail?: { refused?: number } })
        .filter((e) => (e as { action: string }).action === 'token.refused' && e.source === '127.0.0.2')
    }
    // Per window (10 s), three are written as they come; when it ends, one entry stands for the rest.
    const total = (rows: Array<{ detail?: { refused?: number } }>): number => rows.reduce((n, e) => n + (e.detail?.refused ?? 1), 0)
    const rows = await eventually(refusals, (r) => total(r) >= 40, 40_000)
    const counted = total(rows)
    assert.ok(rows.length <= 12, `${rows.length} audit entries for 40 refusals`)
    assert.equal(counted, 40, 'every refusal is accounted for')
  })
})

describe('sign-in: locked per address with backoff, globally only far above (finding 5)', () => {
  it('locks only the address that sent five wrong passwords, even for the right one; the operator signs in from another', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p'] })
    const password = randomBytes(18).toString('base64url')
    await setOperatorPassword(node.dataDir, password)
    const app = String((await register(node, '127.0.0.9')).json().client_id)
    const stranger = new Browser(node, '127.0.0.2')
    const statuses: number[] = []
    let last: Answer | undefined
    for (let i = 0; i < 5; i++) {
      last = await stranger.signIn(app, `wrong password ${i}`)
      statuses.push(last.status)
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429])
    const retryAfter = Number(last!.headers['retry-after'])
    assert.ok(retryAfter > 50 && retryAfter <= 60, `Retry-After: ${retryAfter} (a minute)`)
    assert.match(last!.body, /sign-in from your address is locked/)
    assert.equal((await stranger.signIn(app, password)).status, 429, 'the right password from the locked address waits too')

    const operator = new Browser(node, '127.0.0.3')
    const ok = await operator.signIn(app, password)
    assert.equal(ok.status, 303, `the operator signs in from another address: ${ok.body.slice(0, 300)}`)
  })

  it('doubles the lock with each further wrong password', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--sign-in-lockout', '2s'] })
    await setOperatorPassword(node.dataDir, randomBytes(18).toString('base64url'))
    const app = String((await register(node, '127.0.0.9')).json().client_id)
    const b = new Browser(node, '127.0.0.2')
    for (let i = 0; i < 4; i++) assert.equal((await b.signIn(app, 'not the password')).status, 401)
    const first = await b.signIn(app, 'not the password')
    assert.equal(first.status, 429)
    assert.equal(first.headers['retry-after'], '2')
    await sleep(2500)
    const second = await b.signIn(app, 'not the password')
    assert.equal(second.status, 429, 'the next wrong one locks again at once')
    assert.equal(second.headers['retry-after'], '4', 'for twice as long')
  })

  it('locks untrusted browsers when many addresses guess, not the operator\'s own browser; set-password (local CLI) lifts it', async () => {
    const node = await fleet.startInProcess({ args: ['--no-p2p', '--sign-in-global-failures', '7'] })
    const password = randomBytes(18).toString('base64url')
    await setOperatorPassword(node.dataDir, password)
    const app = String((await register(node, '127.0.0.9')).json().client_id)
    // The operator signed in here once: this browser is trusted from now on.
    const operator = new Browser(node, '127.0.0.20')
    assert.equal((await operator.signIn(app, password)).status, 303)

    const guessers = [new Browser(node, '127.0.0.2'), new Browser(node, '127.0.0.3')]
    const seen: number[] = []
    for (const g of guessers) for (let i = 0; i < 4; i++) seen.push((await g.signIn(app, `guess ${i}`)).status)
    assert.deepEqual(seen.slice(0, 6), [401, 401, 401, 401, 401, 401])
    assert.equal(seen[6], 429, 'the seventh failure from all addresses locks')
    const newcomer = new Browser(node, '127.0.0.4')
    const refused = await newcomer.signIn(app, password)
    assert.equal(refused.status, 429, 'a browser never used by the operator waits, even with the right password')
    assert.match(refused.body, /for browsers that have not signed in here before/)
    assert.equal((await operator.signIn(app, password)).status, 303, 'the operator\'s own browser still signs in')

    await setOperatorPassword(node.dataDir, password)
    assert.equal((await newcomer.signIn(app, password)).status, 303, 'edge-hive operator set-password lifted the lock')
  })
})
