import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { NodeProcess, runCli, cleanEnv, tempDir, removeDir } from '../helpers/cli.ts'
import { request1, type Answer } from '../helpers/https.ts'

const APP = 'https://app.example'
const OTHER = 'https://other.example:8443'
const STRANGER = 'https://evil.example'

interface Target { url: string, ca: string }

/** A CORS preflight (Fetch standard §3.2.2): OPTIONS with Origin and Access-Control-Request-Method. */
async function preflight (t: Target, path: string, origin: string, method = 'GET', headers = 'authorization'): Promise<Answer> {
  return await request1(`${t.url}${path}`, {
    ca: t.ca,
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers }
  })
}

/** A simple cross-origin GET, as a browser sends it. */
async function simpleGet (t: Target, path: string, origin: string): Promise<Answer> {
  return await request1(`${t.url}${path}`, { ca: t.ca, headers: { origin } })
}

function listOf (value: string | string[] | undefined): string[] {
  return String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
}

async function startNode (options: Parameters<typeof NodeProcess.start>[0]): Promise<{ node: NodeProcess, target: Target }> {
  const node = await NodeProcess.start(options)
  return { node, target: { url: node.url, ca: readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8') } }
}

describe('CORS off by default', () => {
  let node: NodeProcess
  let t: Target
  before(async () => { ({ node, target: t } = await startNode({})) })
  after(async () => {
    await node.kill()
    removeDir(node.dataDir)
  })

  it('answers a preflight without any Access-Control-Allow-* header', async () => {
    for (const path of ['/admin/clients', '/healthz']) {
      const res = await preflight(t, path, APP)
      assert.equal(res.headers['access-control-allow-origin'], undefined, `${path}: ${JSON.stringify(res.headers)}`)
      assert.equal(res.headers['access-control-allow-methods'], undefined, path)
      assert.equal(res.headers['access-control-allow-headers'], undefined, path)
    }
  })

  it('answers a simple GET with an Origin without access-control-allow-origin', async () => {
    const res = await simpleGet(t, '/healthz', APP)
    assert.equal(res.status, 200)
    assert.equal(res.headers['access-control-allow-origin'], undefined)
    assert.equal(res.headers['access-control-expose-headers'], undefined)
  })
})

describe('CORS with --cors-origin (repeated)', () => {
  let node: NodeProcess
  let t: Target
  before(async () => { ({ node, target: t } = await startNode({ args: ['--cors-origin', APP, '--cors-origin', OTHER] })) })
  after(async () => {
    await node.kill()
    removeDir(node.dataDir)
  })

  it('echoes each listed origin on a simple GET, never *, and varies on Origin', async () => {
    for (const origin of [APP, OTHER]) {
      const res = await simpleGet(t, '/healthz', origin)
      assert.equal(res.status, 200)
      assert.equal(res.headers['access-control-allow-origin'], origin)
      assert.ok(listOf(res.headers.vary).includes('origin'), `Vary: ${String(res.headers.vary)}`)
    }
  })

  it('exposes WWW-Authenticate and Mcp-Session-Id to the listed origin', async () => {
    const res = await simpleGet(t, '/healthz', APP)
    const exposed = listOf(res.headers['access-control-expose-headers'])
    assert.ok(exposed.includes('www-authenticate'), `exposed: ${exposed.join(', ')}`)
    assert.ok(exposed.includes('mcp-session-id'), `exposed: ${exposed.join(', ')}`)
  })

  it('gives an unlisted origin no access-control-allow-origin, on a simple GET or a preflight', async () => {
    const get = await simpleGet(t, '/healthz', STRANGER)
    assert.equal(get.status, 200)
    assert.equal(get.headers['access-control-allow-origin'], undefined)
    const pre = await preflight(t, '/admin/clients', STRANGER)
    assert.equal(pre.headers['access-control-allow-origin'], undefined)
    // Nor does a near miss: another scheme or port of a listed host.
    for (const near of ['http://app.example', 'https://app.example:444', 'https://other.example']) {
      assert.equal((await simpleGet(t, '/healthz', near)).headers['access-control-allow-origin'], undefined, near)
    }
  })

  it('answers a preflight to a protected route (/admin/clients) without a token', async () => {
    const res = await preflight(t, '/admin/clients', APP, 'POST', 'authorization, content-type')
    assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}: ${res.body}`)
    assert.equal(res.headers['www-authenticate'], undefined, 'no Bearer challenge on a preflight')
    assert.equal(res.headers['access-control-allow-origin'], APP)
    assert.ok(listOf(res.headers['access-control-allow-methods']).includes('post'))
    const allowed = listOf(res.headers['access-control-allow-headers'])
    assert.ok(allowed.includes('authorization') && allowed.includes('content-type'), `allowed: ${allowed.join(', ')}`)
  })

  it('lets the listed origin read the 401 challenge of a protected route', async () => {
    const res = await simpleGet(t, '/admin/clients', APP)
    assert.equal(res.status, 401)
    assert.match(String(res.headers['www-authenticate']), /^Bearer /)
    assert.equal(res.headers['access-control-allow-origin'], APP)
    assert.ok(listOf(res.headers['access-control-expose-headers']).includes('www-authenticate'))
  })

  it('never sends access-control-allow-credentials: true (tokens go in a header, not cookies)', async () => {
    const answers = [
      await simpleGet(t, '/healthz', APP),
      await simpleGet(t, '/admin/clients', APP),
      await preflight(t, '/admin/clients', APP)
    ]
    assert.equal(answers[2]!.headers['access-control-allow-origin'], APP, 'the preflight did get CORS headers')
    for (const res of answers) assert.notEqual(res.headers['access-control-allow-credentials'], 'true')
  })
})

describe('CORS from EDGE_HIVE_CORS_ORIGINS', () => {
  let node: NodeProcess
  let t: Target
  before(async () => { ({ node, target: t } = await startNode({ env: cleanEnv({ EDGE_HIVE_CORS_ORIGINS: `${APP}, ${OTHER}` }) })) })
  after(async () => {
    await node.kill()
    removeDir(node.dataDir)
  })

  it('allows each comma-separated origin and no other', async () => {
    for (const origin of [APP, OTHER]) {
      assert.equal((await simpleGet(t, '/healthz', origin)).headers['access-control-allow-origin'], origin)
      assert.equal((await preflight(t, '/admin/clients', origin)).headers['access-control-allow-origin'], origin)
    }
    assert.equal((await simpleGet(t, '/healthz', STRANGER)).headers['access-control-allow-origin'], undefined)
  })
})

describe('CORS origins that are not origins', () => {
  const dirs: string[] = []
  after(() => { for (const d of dirs) removeDir(d) })

  for (const bad of ['https://x/path', '*']) {
    it(`makes serve exit 2 naming corsOrigins for --cors-origin ${bad}`, async () => {
      const dir = tempDir(); dirs.push(dir)
      const res = await runCli(['serve', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--store', 'mem://', '--cors-origin', APP, '--cors-origin', bad])
      assert.equal(res.code, 2, `stdout: ${res.stdout}; stderr: ${res.stderr}`)
      assert.match(res.stderr, /corsOrigins/)
      assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace')
    })
  }

  it('makes serve exit 2 naming corsOrigins for EDGE_HIVE_CORS_ORIGINS holding a path', async () => {
    const dir = tempDir(); dirs.push(dir)
    const res = await runCli(['serve', '--data-dir', dir, '--host', '127.0.0.1', '--port', '0', '--store', 'mem://'],
      { env: cleanEnv({ EDGE_HIVE_CORS_ORIGINS: `${APP},https://x/path` }) })
    assert.equal(res.code, 2, `stdout: ${res.stdout}; stderr: ${res.stderr}`)
    assert.match(res.stderr, /corsOrigins \(from [^)]*EDGE_HIVE_CORS_ORIGINS\)/)
  })
})
