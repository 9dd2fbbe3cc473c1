// A client in another language than ours: the official Python MCP SDK (`mcp` on PyPI), with its
// client-credentials provider and no scope of its own, as its users run it. It finds the
// authorization server from the node's 401, asks for the scope the challenge names, and must
// get a token and use the node in both eras (issue 16: such clients used to ask for every scope
// the server listed, `mcp:admin` included, and were refused outright).
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Fleet, cleanEnv, runCli, type NodeProcess } from '../helpers/cli.ts'

const exec = promisify(execFile)
const FIXTURE = fileURLToPath(new URL('../fixtures/python-mcp-client.py', import.meta.url))
const VENV_PYTHON = fileURLToPath(new URL('../../.venv-test/bin/python', import.meta.url))
/** The SDK version the test was written against (what .ci/run installs). */
const SDK_VERSION = '2.3.0'

/** The Python with the SDK: EDGE_HIVE_TEST_PYTHON, or the checkout's .venv-test that .ci/run makes. */
const PYTHON = process.env.EDGE_HIVE_TEST_PYTHON ?? VENV_PYTHON
function missing (): string | false {
  const hint = `python3 -m venv .venv-test && .venv-test/bin/pip install mcp==${SDK_VERSION} (CI installs it)`
  if (!existsSync(PYTHON)) return `the official Python MCP SDK is not installed: ${hint}`
  try {
    const v = execFileSync(PYTHON, ['-c', 'import importlib.metadata as m; print(m.version("mcp"))'], { encoding: 'utf8' }).trim()
    return v === SDK_VERSION ? false : `the Python MCP SDK is ${v}, the test is for ${SDK_VERSION}: ${hint}`
  } catch {
    return `the official Python MCP SDK is not installed: ${hint}`
  }
}

interface Seen {
  protocol_version: string
  tools: string[]
  status_is_error: boolean
  status: { node_id?: string }
  info: { node_id?: string, error?: string, message?: string }
  granted_scope: string | null
}

describe('the official Python MCP SDK, getting its own token with client credentials', { skip: missing() }, () => {
  const fleet = new Fleet()
  let node: NodeProcess

  const addClient = async (name: string, scopes: string): Promise<{ id: string, secret: string }> => {
    const res = await runCli(['clients', 'add', '--name', name, '--scopes', scopes, '--json', '--data-dir', node.dataDir])
    assert.equal(res.code, 0, res.stderr)
    const out = JSON.parse(res.stdout) as { client: { client_id: string }, client_secret: string }
    return { id: out.client.client_id, secret: out.client_secret }
  }
  const run = async (client: { id: string, secret: string }, mode: 'legacy' | '2026-07-28'): Promise<Seen> => {
    try {
      const { stdout } = await exec(PYTHON, [FIXTURE, node.ready.mcp_url, node.ready.url, client.id, join(node.dataDir, 'tls', 'cert.pem'), mode], {
        env: cleanEnv({ EDGE_HIVE_CLIENT_SECRET: client.secret }), timeout: 90_000
      })
      return JSON.parse(stdout) as Seen
    } catch (err) {
      const e = err as { stdout?: string, stderr?: string, message: string }
      assert.fail(`the Python client failed: ${e.message}\n${e.stdout ?? ''}\n${(e.stderr ?? '').slice(-3000)}`)
    }
  }

  before(async () => {
    node = await fleet.start({ args: ['--name', 'python-client-test'] })
  })
  after(async () => { await fleet.cleanup() })

  for (const [mode, version] of [['legacy', '2025-11-25'], ['2026-07-28', '2026-07-28']] as const) {
    it(`connects, lists and calls tools and reads a resource (${version})`, async () => {
      const agent = await addClient(`py-agent-${version}`, 'mcp:read mcp:call mcp:resources')
      const seen = await run(agent, mode)
      assert.equal(seen.protocol_version, version)
      assert.deepEqual(seen.tools, ['get_status', 'list_peers'], 'the tools its token may call (provision_node needs mcp:admin)')
      assert.equal(seen.status_is_error, false)
      assert.equal(seen.status.node_id, node.ready.node_id)
      assert.equal(seen.info.node_id, node.ready.node_id)
      assert.equal(seen.granted_scope, 'mcp:read mcp:call mcp:resources', 'it asked for what the challenge named')
    })
  }

  it('a client registered with less than the challenge names gets its part, and uses it', async () => {
    const reader = await addClient('py-reader', 'mcp:read mcp:call')
    const seen = await run(reader, '2026-07-28')
    assert.equal(seen.granted_scope, 'mcp:read mcp:call', 'granted the part it may have, not refused')
    assert.equal(seen.status.node_id, node.ready.node_id)
    assert.equal(seen.info.node_id, undefined, 'no resources without mcp:resources')
    assert.ok(seen.info.error !== undefined, JSON.stringify(seen.info))
  })
})
