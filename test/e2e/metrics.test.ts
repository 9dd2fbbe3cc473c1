import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Fleet, runCli, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'

const PARSE = fileURLToPath(new URL('../fixtures/prom-parse.py', import.meta.url))
// Debian's python3, where the python3-prometheus-client package installs (.ci/run installs it).
const PYTHON = '/usr/bin/python3'

interface MetricFamily { name: string, type: string, samples: Array<{ name: string, labels: Record<string, string>, value: number | string }> }

function parserMissing (): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'the Prometheus parser is missing: apt-get install python3-prometheus-client (CI installs it)'
  }
}

/** Scrapes the node as Prometheus would, and parses the text with Prometheus' own Python client parser. */
async function scrape (node: NodeProcess): Promise<{ families: Map<string, MetricFamily>, contentType: string }> {
  const res = await fetch(node.ready.metrics_url!)
  assert.equal(res.status, 200)
  const parsed = JSON.parse(execFileSync(PYTHON, [PARSE], { input: await res.text(), encoding: 'utf8' })) as MetricFamily[]
  return { families: new Map(parsed.map((f) => [f.name, f])), contentType: res.headers.get('content-type') ?? '' }
}

/** The value of the one sample named `name` with these labels (a histogram's `_count`, a counter's `_total`). */
function sample (families: Map<string, MetricFamily>, family: string, name: string, labels: Record<string, string>): number | undefined {
  const s = families.get(family)?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
  return s === undefined ? undefined : Number(s.value)
}

describe('Prometheus metrics on a listener of their own', { skip: parserMissing() ?? false }, () => {
  const fleet = new Fleet()
  let node: NodeProcess
  let token: string
  let ca: string

  before(async () => {
    node = await fleet.start({ args: ['--log-level', 'debug'] })
    ca = readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8')
    const op = operatorClient(node.dataDir)
    token = (await getToken(node.url, op.client_id, op.client_secret)).json<{ access_token: string }>().access_token
    assert.equal((await getToken(node.url, op.client_id, 'ehs_wrong')).status, 401)
    const call = await request1(`${node.url}/mcp/tools/call`, {
      ca, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'get_status' })
    })
    assert.equal(call.status, 200)
  })
  after(async () => { await fleet.cleanup() })

  it('serves GET /metrics in the Prometheus text format on 127.0.0.1 by default, apart from the API', async () => {
    const url = new URL(node.ready.metrics_url!)
    assert.equal(url.protocol, 'http:')
    assert.equal(url.hostname, '127.0.0.1')
    assert.notEqual(url.port, new URL(node.url).port)
    const { families, contentType } = await scrape(node)
    assert.match(contentType, /^text\/plain; version=0\.0\.4/)
    assert.ok(families.has('process_cpu_user_seconds'), 'process metrics')
    assert.ok(families.has('nodejs_heap_size_used_bytes'), 'runtime metrics')
    const p99 = sample(families, 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_p99_seconds', {})
    assert.ok(p99 !== undefined && p99 >= 0 && p99 < 1, `event loop delay, in seconds late: ${p99}`)
    // The API does not serve them.
    assert.equal((await request1(`${node.url}/metrics`, { ca })).status, 404)
    const other = await fetch(new URL('/other', url))
    assert.equal(other.status, 404)
    assert.equal((await fetch(url, { method: 'POST' })).status, 405)
  })

  it('counts HTTP requests by route pattern and status, tokens issued and refused, and tool calls', async () => {
    const { families } = await scrape(node)
    const http = families.get('edge_hive_http_request_duration_seconds')
    assert.equal(http?.type, 'histogram')
    const H = 'edge_hive_http_request_duration_seconds'
    assert.ok((sample(families, H, `${H}_count`, { route: '/mcp/tools/call', method: 'POST', status: '200' }) ?? 0) >= 1, 'the tool call request')
    assert.ok((sample(families, H, `${H}_count`, { route: '/oauth/token', method: 'POST', status: '200' }) ?? 0) >= 1, 'the token request')
    assert.ok(!http!.samples.some((x) => x.labels.route?.includes('?')), 'routes, not URLs')
    assert.ok((sample(families, 'edge_hive_tokens_issued', 'edge_hive_tokens_issued_total', { grant_type: 'client_credentials' }) ?? 0) >= 1)
    assert.ok((sample(families, 'edge_hive_tokens_refused', 'edge_hive_tokens_refused_total', { reason: 'invalid_client' }) ?? 0) >= 1)
    assert.equal(sample(families, 'edge_hive_tool_calls', 'edge_hive_tool_calls_total', { tool: 'get_status', outcome: 'ok' }), 1)
  })

  it('shows MCP sessions open, peers by status and store operation latency', async () => {
    const { families } = await scrape(node)
    assert.equal(sample(families, 'edge_hive_mcp_sessions_open', 'edge_hive_mcp_sessions_open', {}), 0)
    for (const status of ['online', 'offline', 'untrusted']) assert.equal(sample(families, 'edge_hive_peers', 'edge_hive_peers', { status }), 0)
    const S = 'edge_hive_store_operation_duration_seconds'
    assert.equal(families.get(S)?.type, 'histogram')
    assert.ok((sample(families, S, `${S}_count`, { operation: 'audit.append', outcome: 'ok' }) ?? 0) >= 1, 'audit appends were timed')
    assert.ok((sample(families, S, `${S}_count`, { operation: 'clients.get', outcome: 'ok' }) ?? 0) >= 1, 'client lookups were timed')
  })

  it('logs each request with its request id, client id, route, status and duration', async () => {
    const res = await request1(`${node.url}/discovery/peers`, { ca, headers: { authorization: `Bearer ${token}` } })
    const id = res.headers['x-request-id']
    await new Promise((resolve) => setTimeout(resolve, 200))
    const line = node.logs.find((l) => l.msg === 'request' && l.reqId === id)
    assert.ok(line !== undefined, `a request line with reqId ${String(id)}`)
    assert.equal(line.route, '/discovery/peers')
    assert.equal(line.status, 200)
    assert.equal(typeof line.ms, 'number')
    assert.equal(line.client_id, operatorClient(node.dataDir).client_id)
    assert.ok(!JSON.stringify(node.logs).includes(token), 'no token in the logs')
  })

  it('runs no metrics listener with --no-metrics, and says clearly when its port is taken', async () => {
    const off = await fleet.start({ args: ['--no-metrics'] })
    assert.equal(off.ready.metrics_url, null)
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await runCli(['serve', '--data-dir', fleet.tempDir(), '--port', '0', '--store', 'mem://', '--no-p2p', '--metrics-port', String(port)])
      assert.equal(r.code, 2, 'a setting to change: exit 2')
      assert.match(r.stderr, new RegExp(`^edge-hive: the metrics listener cannot listen on 127\\.0\\.0\\.1:${port}: .*--metrics-port .*--no-metrics`))
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line')
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    } finally {
      busy.close()
    }
  })
})
