import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import type { ClientView } from '../../src/auth/index.ts'
import { Fleet, NodeProcess, runCli, type RunResult } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { decodePayload, getToken } from '../helpers/tokens.ts'

const STACK_TRACE = /\n\s+at /

/** `edge-hive clients <args> --data-dir <dir> [extra]`. */
async function clients (dir: string, args: string[], extra: string[] = []): Promise<RunResult> {
  return await runCli(['clients', ...args, '--data-dir', dir, ...extra])
}

/** The JSON a successful command printed; fails the test with its stderr otherwise. */
function printed<T> (res: RunResult): T {
  assert.equal(res.code, 0, `exit ${res.code}; stderr: ${res.stderr}`)
  return JSON.parse(res.stdout) as T
}

/** Asserts a command failed with exit 1 and one clear `edge-hive: ...` line, no stack trace. */
function assertRefused (res: RunResult, message: RegExp): void {
  assert.equal(res.code, 1, `exit ${res.code}; stdout: ${res.stdout}; stderr: ${res.stderr}`)
  assert.match(res.stderr, /^edge-hive: /)
  assert.match(res.stderr, message)
  assert.doesNotMatch(res.stderr, STACK_TRACE, 'no stack trace')
  assert.equal(res.stdout, '', 'nothing on stdout')
}

async function accessToken (url: string, id: string, secret: string, params: Record<string, string> = {}): Promise<string> {
  const res = await getToken(url, id, secret, params)
  assert.equal(res.status, 200, res.body)
  return res.json<{ access_token: string }>().access_token
}

describe('edge-hive clients through a running node', () => {
  let node: NodeProcess
  let ca: string
  const fleet = new Fleet()

  const cli = async (args: string[]): Promise<RunResult> => await clients(node.dataDir, args)
  const adminList = async (token: string): Promise<Answer> =>
    await request1(`${node.url}/admin/clients`, { ca, headers: { authorization: `Bearer ${token}` } })

  before(async () => {
    // mem:// keeps clients only inside the node process: whatever the CLI adds, it added there.
    node = await fleet.start({ args: ['--name', 'clients-cli-test'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
  })
  after(async () => { await fleet.cleanup() })

  it('adds, lists and shows a client via the node\'s admin API, recorded as created by edge-hive-cli', async () => {
    const added = printed<{ client: ClientView, client_secret?: string }>(await cli([
      'add', '--name', 'online-agent', '--scopes', 'mcp:read mcp:call', '--agent-type', 'claude', '--agent-version', '4.1', '--json'
    ]))
    const c = added.client
    assert.equal(c.name, 'online-agent')
    assert.deepEqual(c.scopes, ['mcp:read', 'mcp:call'])
    assert.equal(c.auth_method, 'client_secret_basic')
    assert.equal(c.agent_type, 'claude')
    assert.equal(c.agent_version, '4.1')
    assert.equal(c.created_by, 'edge-hive-cli')
    assert.equal(c.status, 'active')
    assert.equal(c.revoked_at, undefined)
    assert.ok(!Number.isNaN(Date.parse(c.created_at)), 'created_at is a date')
    assert.equal(typeof added.client_secret, 'string')

    const listed = printed<{ clients: ClientView[] }>(await cli(['list', '--json']))
    assert.deepEqual(listed.clients.find((x) => x.client_id === c.client_id), c)
    const shown = printed<{ client: ClientView }>(await cli(['show', c.client_id, '--json']))
    assert.deepEqual(shown.client, c)
    for (const out of [JSON.stringify(listed), JSON.stringify(shown)]) {
      assert.ok(!out.includes(added.client_secret!), 'list and show never print the secret')
    }
  })

  it('prints a secret that gets a token at the token endpoint carrying exactly the registered scopes', async () => {
    const { client, client_secret: secret } = printed<{ client: ClientView, client_secret: string }>(await cli(['add', '--name', 'scoped-agent', '--scopes', 'mcp:read,mcp:resources', '--json']))
    assert.deepEqual(client.scopes, ['mcp:read', 'mcp:resources'])
    const res = await getToken(node.url, client.client_id, secret)
    assert.equal(res.status, 200, res.body)
    const body = res.json<{ access_token: string, scope: string }>()
    assert.equal(body.scope, 'mcp:read mcp:resources')
    const claims = decodePayload(body.access_token)
    assert.equal(claims.client_id, client.client_id)
    assert.equal(claims.scope, 'mcp:read mcp:resources')
    assert.deepEqual(claims.scopes, ['mcp:read', 'mcp:resources'])
    // Nothing beyond what was registered: asking for more gets the registered part.
    const more = await getToken(node.url, client.client_id, secret, { scope: 'mcp:read mcp:admin' })
    assert.equal(more.status, 200, more.body)
    assert.equal(more.json<{ scope: string }>().scope, 'mcp:read')
    assert.deepEqual(decodePayload(more.json<{ access_token: string }>().access_token).scopes, ['mcp:read'])
  })

  it('prints the secret once in human output on add, and never again in list or show', async () => {
    const added = await cli(['add', '--name', 'human-agent', '--scopes', 'mcp:call'])
    assert.equal(added.code, 0, added.stderr)
    const m = /^added (\S+)\s+active\s+human-agent\s+\[mcp:call\]\s+client_secret_basic$/m.exec(added.stdout)
    assert.ok(m !== null, `an "added" line: ${added.stdout}`)
    const id = m[1]!
    const secrets = [...added.stdout.matchAll(/client secret \(shown only now\): (\S+)/g)].map((x) => x[1]!)
    assert.equal(secrets.length, 1, 'the secret is printed exactly once')
    const secret = secrets[0]!
    assert.equal((await getToken(node.url, id, secret)).status, 200, 'the printed secret is the real one')

    const list = await cli(['list'])
    const show = await cli(['show', id])
    assert.equal(list.code, 0, list.stderr)
    assert.equal(show.code, 0, show.stderr)
    assert.match(list.stdout, new RegExp(`^${id}\\s+active\\s+human-agent`, 'm'))
    assert.match(show.stdout, new RegExp(`client_id\\s+${id}`))
    for (const out of [list.stdout, show.stdout, node.stdout, node.stderr]) assert.ok(!out.includes(secret), 'the secret appears nowhere else')
  })

  it('revoke makes a live token of the client stop working at once, and the client gets no new token', async () => {
    const { client, client_secret: secret } = printed<{ client: ClientView, client_secret: string }>(await cli(['add', '--name', 'doomed-admin', '--scopes', 'mcp:read mcp:admin', '--json']))
    const token = await accessToken(node.url, client.client_id, secret, { scope: 'mcp:admin' })
    assert.equal((await adminList(token)).status, 200, 'the token works before the revocation')

    const revoked = printed<{ client: ClientView }>(await cli(['revoke', client.client_id, '--json'])).client
    assert.equal(revoked.client_id, client.client_id)
    assert.equal(revoked.status, 'revoked')
    assert.ok(!Number.isNaN(Date.parse(revoked.revoked_at ?? '')), 'revoked_at is a date')

    const refused = await adminList(token)
    assert.equal(refused.status, 401, refused.body)
    assert.equal(refused.json().error, 'invalid_token')
    const again = await getToken(node.url, client.client_id, secret)
    assert.equal(again.status, 401, again.body)
    assert.equal(again.json().error, 'invalid_client')
    assert.equal(printed<{ client: ClientView }>(await cli(['show', client.client_id, '--json'])).client.status, 'revoked')
  })

  it('rotate-secret gives a new secret that works, and the old one is refused', async () => {
    const { client, client_secret: old } = printed<{ client: ClientView, client_secret: string }>(await cli(['add', '--name', 'rotating-agent', '--scopes', 'mcp:read', '--json']))
    assert.equal((await getToken(node.url, client.client_id, old)).status, 200)

    const rotated = printed<{ client: ClientView, client_secret: string }>(await cli(['rotate-secret', client.client_id, '--json']))
    assert.equal(rotated.client.client_id, client.client_id)
    assert.equal(rotated.client.status, 'active')
    assert.notEqual(rotated.client_secret, old)
    assert.ok(!Number.isNaN(Date.parse(rotated.client.secret_rotated_at ?? '')), 'secret_rotated_at is a date')

    const withOld = await getToken(node.url, client.client_id, old)
    assert.equal(withOld.status, 401, withOld.body)
    assert.equal(withOld.json().error, 'invalid_client')
    assert.equal((await getToken(node.url, client.client_id, rotated.client_secret)).status, 200)
  })

  it('refuses to rotate the secret of a revoked client with exit 1 and a clear message', async () => {
    const { client } = printed<{ client: ClientView }>(await cli(['add', '--name', 'gone-agent', '--scopes', 'mcp:read', '--json']))
    printed(await cli(['revoke', client.client_id, '--json']))
    assertRefused(await cli(['rotate-secret', client.client_id, '--json']), /revoked/)
  })

  it('registers a --jwks-file public key for private_key_jwt, which gets a token with a signed assertion (RFC 7523)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    const dir = fleet.tempDir()
    const file = join(dir, 'agent-public.jwk')
    writeFileSync(file, JSON.stringify(await exportJWK(publicKey)))

    const added = printed<{ client: ClientView, client_secret?: string }>(await cli(['add', '--name', 'jwt-agent', '--scopes', 'mcp:read', '--jwks-file', file, '--json']))
    assert.equal(added.client.auth_method, 'private_key_jwt')
    assert.equal(added.client_secret, undefined, 'no secret for a key-based client')
    const id = added.client.client_id

    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer(id).setSubject(id).setAudience(node.ready.url).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s')
      .sign(privateKey)
    const res = await request1(`${node.url}/oauth/token`, {
      ca,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion
      }).toString()
    })
    assert.equal(res.status, 200, res.body)
    const body = res.json<{ access_token: string, scope: string }>()
    assert.equal(body.scope, 'mcp:read')
    assert.equal(decodePayload(body.access_token).client_id, id)
  })

  it('refuses a --jwks-file that holds a private key, and registers nothing', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    const dir = fleet.tempDir()
    const file = join(dir, 'agent-private.jwk')
    const jwk = await exportJWK(privateKey)
    assert.equal(typeof jwk.d, 'string', 'the fixture really is a private key')
    writeFileSync(file, JSON.stringify({ keys: [jwk] }), { mode: 0o600 })

    assertRefused(await cli(['add', '--name', 'leaky-agent', '--scopes', 'mcp:read', '--jwks-file', file]), /public keys only|private/)
    const listed = printed<{ clients: ClientView[] }>(await cli(['list', '--json']))
    assert.equal(listed.clients.filter((c) => c.name === 'leaky-agent').length, 0)
  })

  it('refuses an unknown scope with exit 1 naming it, no stack trace, and registers nothing', async () => {
    assertRefused(await cli(['add', '--name', 'greedy-agent', '--scopes', 'mcp:read mcp:everything']), /[Uu]nknown scope mcp:everything/)
    const listed = printed<{ clients: ClientView[] }>(await cli(['list', '--json']))
    assert.equal(listed.clients.filter((c) => c.name === 'greedy-agent').length, 0)
  })

  it('refuses show, revoke and rotate-secret of an unknown client with exit 1 naming it, no stack trace', async () => {
    for (const cmd of ['show', 'revoke', 'rotate-secret']) {
      assertRefused(await cli([cmd, 'no-such-client']), /No client no-such-client/)
    }
  })
})

describe('edge-hive clients with the node stopped', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('adds, lists, shows and revokes in the store directly, and the node sees the changes when it starts again', async () => {
    const dir = fleet.tempDir()
    const store = ['--store', `surrealkv://${join(dir, 'db')}`]
    const first = await fleet.start({ dataDir: dir, args: store })
    assert.equal((await first.stop()).code, 0)

    const kept = printed<{ client: ClientView, client_secret: string }>(await clients(dir, ['add', '--name', 'offline-agent', '--scopes', 'mcp:read mcp:call', '--json'], store))
    assert.equal(kept.client.status, 'active')
    assert.deepEqual(kept.client.scopes, ['mcp:read', 'mcp:call'])
    assert.notEqual(kept.client.created_by, 'edge-hive-cli', 'no node was involved')
    const dropped = printed<{ client: ClientView, client_secret: string }>(await clients(dir, ['add', '--name', 'offline-dropped', '--scopes', 'mcp:read', '--json'], store))

    const listed = printed<{ clients: ClientView[] }>(await clients(dir, ['list', '--json'], store))
    assert.deepEqual(listed.clients.find((c) => c.client_id === kept.client.client_id), kept.client)
    assert.deepEqual(printed<{ client: ClientView }>(await clients(dir, ['show', kept.client.client_id, '--json'], store)).client, kept.client)
    assert.equal(printed<{ client: ClientView }>(await clients(dir, ['revoke', dropped.client.client_id, '--json'], store)).client.status, 'revoked')

    const second = await fleet.start({ dataDir: dir, args: store })
    const token = await getToken(second.url, kept.client.client_id, kept.client_secret)
    assert.equal(token.status, 200, token.body)
    assert.equal(token.json<{ scope: string }>().scope, 'mcp:read mcp:call')
    const refused = await getToken(second.url, dropped.client.client_id, dropped.client_secret)
    assert.equal(refused.status, 401, refused.body)
    assert.equal(refused.json().error, 'invalid_client')

    // The same clients, seen through the running node this time.
    const online = printed<{ clients: ClientView[] }>(await clients(dir, ['list', '--json']))
    assert.deepEqual(online.clients.find((c) => c.client_id === kept.client.client_id), kept.client)
    assert.equal(online.clients.find((c) => c.client_id === dropped.client.client_id)?.status, 'revoked')
  })

  /** A data dir whose node ran once and is stopped now. */
  const stoppedNode = async (store: (dir: string) => string[]): Promise<string> => {
    const dir = fleet.tempDir()
    assert.equal((await (await fleet.start({ dataDir: dir, args: store(dir) })).stop()).code, 0)
    return dir
  }

  it('refuses an unknown scope and an unknown client with exit 1 and a clear message, no stack trace', async () => {
    const dir = await stoppedNode((d) => ['--store', `surrealkv://${join(d, 'db')}`])
    const store = ['--store', `surrealkv://${join(dir, 'db')}`]
    assertRefused(await clients(dir, ['add', '--name', 'greedy-agent', '--scopes', 'mcp:everything'], store), /[Uu]nknown scope mcp:everything/)
    for (const cmd of ['show', 'revoke', 'rotate-secret']) {
      assertRefused(await clients(dir, [cmd, 'no-such-client'], store), /No client no-such-client/)
    }
    // Nothing registered: only the operator client of the node's first start.
    assert.deepEqual(printed<{ clients: ClientView[] }>(await clients(dir, ['list', '--json'], store)).clients.map((c) => c.name), ['operator'])
  })

  it('refuses to work offline on a mem:// store, which keeps nothing', async () => {
    const dir = await stoppedNode(() => ['--store', 'mem://'])
    for (const args of [['list'], ['add', '--name', 'nowhere-agent', '--scopes', 'mcp:read']]) {
      assertRefused(await clients(dir, args, ['--store', 'mem://']), /mem:\/\//)
    }
  })
})
