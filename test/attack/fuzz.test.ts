// A generator of random MCP traffic: methods known and unknown, params well- and ill-formed,
// single messages and batches, in both protocol eras, with a token of each single scope. The
// oracle is the scope table as the README states it, written out here independently of the
// code's own table: nothing beyond a token's scope ever comes back, and nothing is a 5xx.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Fleet, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'
import { RawMcp, messagesOf, type JsonRpcMessage } from '../fixtures/mcp-raw.ts'

const LATEST = 'edge-hive://logs/latest'
const TOOLS: Record<string, string> = { get_status: 'mcp:call', list_peers: 'mcp:call', provision_node: 'mcp:admin' }
const READ = ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'prompts/get']
const RESOURCES = ['resources/read', 'resources/subscribe', 'resources/unsubscribe']
const TOKEN_ONLY = ['initialize', 'ping', 'logging/setLevel', 'server/discover']
const METHODS = [...READ, ...RESOURCES, ...TOKEN_ONLY, 'tools/call', 'tools/call', 'tools/call', 'completion/complete', 'no/such/method', 'tasks/list', 'roots/list', '']
const SCOPES = ['mcp:read', 'mcp:call', 'mcp:resources', 'mcp:admin']
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'edge-hive-fuzz', version: '1.0.0' }
}

/** What a request needs, as the README's scope table says; undefined: a valid token only. */
function needs (m: { method?: unknown, id?: unknown, params?: any }): string | undefined {
  if (typeof m.method !== 'string' || m.id === undefined) return undefined
  if (TOKEN_ONLY.includes(m.method)) return undefined
  if (READ.includes(m.method)) return 'mcp:read'
  if (RESOURCES.includes(m.method)) return 'mcp:resources'
  if (m.method === 'tools/call') return TOOLS[String(m.params?.name)] ?? 'mcp:call'
  if (m.method === 'completion/complete') return m.params?.ref?.type === 'ref/resource' ? 'mcp:resources' : 'mcp:read'
  return 'mcp:read'
}

/** A small PRNG (mulberry32), seeded so that a failure can be replayed with FUZZ_SEED. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('attack: random MCP traffic never gets beyond its scope', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  let ca: string
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

  before(async () => {
    node = await fleet.start({ args: ['--name', 'fuzz', '--api-rate-limit', '100000'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
  })
  after(async () => { await fleet.cleanup() })

  it(`sends 400 random requests in both eras with one-scope tokens (seed ${seed}; replay with FUZZ_SEED=${seed})`, async () => {
    const rnd = prng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
    const op = operatorClient(node.dataDir)
    const tokens: Record<string, string> = {}
    for (const scope of SCOPES) {
      const res = await getToken(node.url, op.client_id, op.client_secret, { scope })
      assert.equal(res.status, 200, res.body)
      tokens[scope] = res.json<{ access_token: string }>().access_token
    }
    const sessions: Record<string, string> = {}
    for (const scope of SCOPES) sessions[scope] = await new RawMcp(node.ready.mcp_url, ca, tokens[scope]!).initialize()

    const paramsFor = (method: string): unknown => {
      switch (pick([0, 1, 2, 3, 4, 5])) {
        case 0: return {}
        case 1: return { uri: pick([LATEST, 'edge-hive://node/info', 'edge-hive://logs/2026-01-01', 'file:///etc/passwd', 'x']) }
        case 2: return { name: pick([...Object.keys(TOOLS), 'nope', '__proto__']), arguments: pick([{}, { name: 'x', scopes: ['mcp:read'], dry_run: true }, 'x', null]) }
        case 3: return { ref: pick([{ type: 'ref/resource', uri: 'edge-hive://logs/{date}' }, { type: 'ref/prompt', name: 'x' }, {}]), argument: { name: 'date', value: '20' } }
        case 4: return method === 'initialize' ? { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'f', version: '1' } } : { level: 'debug' }
        default: return pick([null, [], 'text', 42, { _meta: { progressToken: 1 } }])
      }
    }
    const message = (modern: boolean, id: number): Record<string, any> => {
      const method = pick(METHODS)
      const params = paramsFor(method)
      const withMeta = modern && params !== null && typeof params === 'object' && !Array.isArray(params) ? { ...params, _meta: MODERN_META } : params
      const m: Record<string, any> = { jsonrpc: '2.0', method, params: withMeta }
      if (rnd() < 0.9) m.id = id
      return m
    }

    const problems: string[] = []
    for (let i = 0; i < 400; i++) {
      const scope = pick(SCOPES)
      const modern = rnd() < 0.4
      const batch = !modern && rnd() < 0.3
      const body = batch ? Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_v, k) => message(false, i * 10 + k)) : message(modern, i * 10)
      const first = (Array.isArray(body) ? body[0] : body) as Record<string, unknown>
      const headers: Record<string, string> = {
        authorization: `Bearer ${tokens[scope]!}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json',
        ...(modern ? { 'mcp-protocol-version': '2026-07-28', 'mcp-method': String(first.method) } : { 'mcp-session-id': sessions[scope]!, 'mcp-protocol-version': '2025-11-25' })
      }
      const res = await request1(node.ready.mcp_url, { ca, method: 'POST', headers, body: JSON.stringify(body) })
      const what = `#${i} ${scope} ${modern ? '2026' : '2025'} ${JSON.stringify(body).slice(0, 300)} -> ${res.status} ${res.body.slice(0, 300)}`
      if (res.status >= 500) problems.push(`5xx: ${what}`)
      if (!scope.includes('mcp:resources') && res.body.includes('node.started')) problems.push(`log contents without mcp:resources: ${what}`)
      let answers: JsonRpcMessage[] = []
      try { answers = messagesOf(res) } catch { /* not JSON-RPC: a plain HTTP refusal */ }
      for (const m of Array.isArray(body) ? body : [body]) {
        const needed = needs(m)
        if (needed === undefined || needed === scope) continue
        const answer = answers.find((a) => a.id === m.id && (a.result !== undefined || a.error !== undefined))
        if (answer?.result !== undefined) problems.push(`a result beyond the scope (${needed} needed): ${what}`)
      }
    }
    assert.deepEqual(problems.slice(0, 10), [], `seed ${seed}`)
    // The node is still there, and still answers.
    const ready = await request1(`${node.url}/readyz`, { ca })
    assert.equal(ready.status, 200)
  })
})
