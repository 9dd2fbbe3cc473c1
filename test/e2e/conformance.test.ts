import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NodeProcess, cleanEnv, removeDir, tempDir } from '../helpers/cli.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'
import { startBearerProxy, type BearerProxy } from '../fixtures/bearer-proxy.ts'
import { failuresOf, runServerSuite, warningsOf, type SuiteRun } from '../fixtures/conformance-suite.ts'

const PLUGIN = fileURLToPath(new URL('../fixtures/plugins/conformance.mjs', import.meta.url))
const SUITE_TIMEOUT_MS = 90_000

/**
 * Active scenarios the node cannot pass yet, each for a reason in src/ (not in this test), so
 * test/fixtures/plugins/conformance.mjs does not register their fixtures. A scenario listed
 * here that passes fails the test too, so the list stays true.
 */
const KNOWN_FAILURES: Record<string, string> = {}

/** The suite's environment: ours, without proxies, so nothing leaves 127.0.0.1. */
function suiteEnv (): Record<string, string> {
  const env = cleanEnv()
  for (const k of Object.keys(env)) {
    if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k]
  }
  return { ...env, NO_PROXY: '127.0.0.1,localhost', NO_COLOR: '1' }
}

describe('MCP conformance suite (@modelcontextprotocol/conformance, server scenarios)', () => {
  let node: NodeProcess | undefined
  let proxy: BearerProxy | undefined
  const dirs: string[] = []

  before(async () => {
    node = await NodeProcess.start({ args: ['--name', 'conformance', '--plugin', PLUGIN] })
    dirs.push(node.dataDir)
    const op = operatorClient(node.dataDir)
    const res = await getToken(node.url, op.client_id, op.client_secret, { scope: 'mcp:read mcp:call mcp:resources mcp:admin' })
    assert.equal(res.status, 200, res.body)
    const token = res.json<{ access_token: string }>().access_token
    proxy = await startBearerProxy({ target: node.ready.mcp_url, token, ca: readFileSync(join(node.dataDir, 'tls', 'cert.pem'), 'utf8') })
  })

  after(async () => {
    await proxy?.close()
    await node?.kill()
    for (const d of dirs) removeDir(d)
  })

  it('runs every active scenario of the suite against the node; each passes unless it is a known failure', { timeout: SUITE_TIMEOUT_MS + 15_000 }, async (t) => {
    const outputDir = tempDir('edge-hive-conformance-')
    dirs.push(outputDir)
    const run: SuiteRun = await runServerSuite({ url: proxy!.url, outputDir, timeoutMs: SUITE_TIMEOUT_MS, env: suiteEnv() })
    const context = `suite exit ${run.code ?? run.signal}; stderr:\n${run.stderr}\nstdout (tail):\n${run.stdout.slice(-4000)}`
    assert.equal(run.timedOut, false, `the suite did not finish in ${SUITE_TIMEOUT_MS} ms; ${context}`)
    assert.ok(run.announced !== undefined && run.announced > 0, `the suite announced no scenarios; ${context}`)
    assert.equal(run.scenarios.length, run.announced, `the suite ran ${run.scenarios.length} of ${run.announced} scenarios; ${context}`)
    assert.ok(proxy!.forwarded > 0, 'the suite reached the node through the proxy')

    // One subtest per scenario. A known failure is a TODO that shows its reason and what failed;
    // it fails (and so does the parent, below) only once the scenario passes.
    const stale: string[] = []
    for (const result of run.scenarios) {
      const known = KNOWN_FAILURES[result.scenario]
      const failures = failuresOf(result)
      if (known === undefined) {
        await t.test(result.scenario, (st) => {
          for (const w of warningsOf(result)) st.diagnostic(`warning: ${w}`)
          assert.deepEqual(failures, [], `${result.scenario} failed:\n${failures.join('\n')}`)
        })
      } else {
        if (failures.length === 0) stale.push(result.scenario)
        await t.test(result.scenario, { todo: `KNOWN FAILURE, needs a change in src/: ${known}` }, (st) => {
          for (const f of failures) st.diagnostic(`fails: ${f}`)
          assert.notDeepEqual(failures, [], `${result.scenario} passes now; remove it from KNOWN_FAILURES`)
        })
      }
    }

    const ran = new Set(run.scenarios.map((s) => s.scenario))
    const missing = Object.keys(KNOWN_FAILURES).filter((s) => !ran.has(s))
    const passed = run.scenarios.filter((r) => failuresOf(r).length === 0).length
    t.diagnostic(`${passed} of ${run.scenarios.length} active scenarios pass; known failures (need src/): ${Object.keys(KNOWN_FAILURES).filter((s) => !stale.includes(s)).join(', ') || 'none'}`)
    assert.deepEqual(stale, [], `known failures now pass; remove them from KNOWN_FAILURES: ${stale.join(', ')}`)
    assert.deepEqual(missing, [], `known failures the suite no longer runs: ${missing.join(', ')}`)
    // The suite's own verdict agrees: it exits 1 exactly when some scenario failed.
    assert.equal(run.code, Object.keys(KNOWN_FAILURES).length === 0 ? 0 : 1, context)
  })
})
