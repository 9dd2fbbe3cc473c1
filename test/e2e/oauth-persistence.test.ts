import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Fleet, NodeProcess, filesUnder, freePort } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'

const exec = promisify(execFile)
const READ_AUDIT = fileURLToPath(new URL('../fixtures/read-audit.ts', import.meta.url))

describe('OAuth state across restarts', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })
  const start = async (dir: string, args: string[] = []): Promise<NodeProcess> => {
    return await fleet.start({ dataDir: dir, args: ['--store', `surrealkv://${join(dir, 'db')}`, ...args] })
  }

  it('keeps clients and revocations, stores no secret in clear, and audits tokens and client changes', async () => {
    const dir = fleet.tempDir()
    // The same port after the restart: the issuer and the tokens' audience are URLs with it.
    const port = String(await freePort())
    let node = await start(dir, ['--port', port])
    const op = operatorClient(dir)
    const ca = readFileSync(join(dir, 'tls', 'cert.pem'), 'utf8')
    const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` })
    const admin = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const added = (await request1(`${node.url}/admin/clients`, {
      ca, method: 'POST', headers: { ...bearer(admin), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'kept', scopes: ['mcp:admin'] })
    })).json<{ client: { client_id: string }, client_secret: string }>()
    const kept = added.client.client_id
    const secret = added.client_secret
    const toRevoke = (await getToken(node.url, kept, secret)).json<{ access_token: string }>().access_token
    const revoked = await request1(`${node.url}/oauth/revoke`, {
      ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${kept}:${secret}`).toString('base64')}` }, body: `token=${toRevoke}`
    })
    assert.equal(revoked.status, 200)
    const stillGood = (await getToken(node.url, kept, secret)).json<{ access_token: string }>().access_token
    await getToken(node.url, kept, 'wrong-secret') // a refusal, for the audit log
    assert.equal((await node.stop()).code, 0)

    // A stolen copy of the database: no client secret in any of its files.
    const bytes = Buffer.concat(filesUnder(join(dir, 'db')))
    for (const s of [secret, op.client_secret]) {
      assert.equal(bytes.includes(Buffer.from(s)), false, 'secret found in the database files')
      assert.equal(bytes.includes(Buffer.from(s.slice(4, 24))), false, 'part of a secret found in the database files')
    }
    assert.ok(bytes.length > 0)

    // What was written is all there, newest first, without secrets.
    const { stdout } = await exec(process.execPath, [READ_AUDIT, `surrealkv://${join(dir, 'db')}`])
    const audit = JSON.parse(stdout) as Array<{ action: string, actor: string, target?: string, outcome: string, source?: string }>
    const actions = audit.map((e) => e.action)
    for (const a of ['client.added', 'token.issued', 'token.refused', 'token.revoked', 'node.started', 'node.stopped']) assert.ok(actions.includes(a), `audit has ${a}`)
    const refused = audit.find((e) => e.action === 'token.refused')!
    assert.equal(refused.outcome, 'failure')
    assert.equal(refused.source, '127.0.0.1')
    assert.ok(!stdout.includes(secret) && !stdout.includes(toRevoke))

    node = await start(dir, ['--port', port])
    const api = async (t: string): Promise<Answer> => await request1(`${node.url}/admin/clients`, { ca, headers: bearer(t) })
    assert.equal((await api(toRevoke)).status, 401, 'the revocation survived the restart')
    assert.equal((await api(stillGood)).status, 200, 'unrevoked tokens stay valid: the signing key survived')
    assert.equal((await getToken(node.url, kept, secret)).status, 200, 'the client survived')
    assert.equal(operatorClient(dir).client_id, op.client_id, 'no second operator client')
    const list = (await api(stillGood)).json<{ clients: Array<{ name: string }> }>().clients
    assert.deepEqual(list.map((c) => c.name).sort(), ['kept', 'operator'])
  })
})

describe('rate limits', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('answers a token flood with 429, Retry-After and RateLimit headers, leaves the API alone, and recovers after the window', async () => {
    const node = await fleet.start({ args: ['--token-rate-limit', '3', '--rate-limit-window', '2s'] })
    const op = operatorClient(node.dataDir)
    const statuses: number[] = []
    let last: Answer | undefined
    for (let i = 0; i < 5; i++) {
      last = await getToken(node.url, op.client_id, op.client_secret)
      statuses.push(last.status)
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429])
    assert.equal(last!.json().error, 'rate_limited')
    assert.match(String(last!.headers['retry-after']), /^\d+$/)
    assert.equal(last!.headers['ratelimit-limit'], '3')
    assert.equal(last!.headers['ratelimit-remaining'], '0')
    const health = await request1(`${node.url}/healthz`)
    assert.equal(health.status, 200, 'the API is not affected by the token limit')
    // After the window the flooded source is served again.
    await new Promise((resolve) => setTimeout(resolve, 2200))
    assert.equal((await getToken(node.url, op.client_id, op.client_secret)).status, 200)
  })

  it('limits token requests per client id, across source addresses', async () => {
    const node = await fleet.start({ args: ['--token-rate-limit', '2', '--rate-limit-window', '1m'] })
    const op = operatorClient(node.dataDir)
    const from = async (address: string): Promise<number> => (await request1(`${node.url}/oauth/token`, {
      method: 'POST', tls: { localAddress: address },
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${op.client_id}:${op.client_secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials'
    })).status
    assert.equal(await from('127.0.0.2'), 200)
    assert.equal(await from('127.0.0.3'), 200)
    assert.equal(await from('127.0.0.4'), 429, 'third request of this client, from a third address')
    // A different client from a fresh address is unaffected.
    const other = await request1(`${node.url}/oauth/token`, {
      method: 'POST', tls: { localAddress: '127.0.0.5' }, headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${op.client_id}x&client_secret=nope`
    })
    assert.equal(other.status, 401, 'answered (invalid_client), not rate limited')
  })

  it('limits API calls per token subject', async () => {
    const node = await fleet.start({ args: ['--api-rate-limit', '3', '--rate-limit-window', '1m'] })
    const op = operatorClient(node.dataDir)
    const t = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await request1(`${node.url}/admin/clients`, { headers: { authorization: `Bearer ${t}` } })).status)
    assert.deepEqual(statuses, [200, 200, 200, 429])
  })
})
