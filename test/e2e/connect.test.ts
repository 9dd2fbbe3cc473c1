// `edge-hive connect`: the configuration it makes for an MCP app is run as the app runs it, with
// mcp-remote (a bridge we did not write) started by the generated command, driven over stdio by
// the official MCP SDK client, getting its own tokens from the node with client credentials.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { Fleet, cleanEnv, runCli, type NodeProcess } from '../helpers/cli.ts'
import { MCP_REMOTE } from '../../src/cli/commands/connect.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Launch { command: string, args: string[], env: Record<string, string> }

describe('edge-hive connect', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  let home: string

  /** The CLI as the person runs it, with a home of the test's own (the apps' files live there). */
  const connect = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await runCli(['connect', ...args, '--data-dir', node.dataDir], { env: cleanEnv({ HOME: home }) })

  /** Starts the configured server command as the app would (npx, in this checkout: no download) and lists and calls tools. */
  const drive = async (launch: Launch): Promise<{ tools: string[], nodeId: unknown }> => {
    assert.equal(launch.command, 'npx')
    const transport = new StdioClientTransport({
      command: launch.command,
      args: launch.args,
      // What the app passes (its own environment plus the entry's), with the bridge's token cache kept in the test's home.
      env: { ...cleanEnv({ HOME: home, MCP_REMOTE_CONFIG_DIR: join(home, '.mcp-auth'), npm_config_offline: 'true' }), ...launch.env },
      cwd: ROOT,
      stderr: 'pipe'
    })
    let stderr = ''
    transport.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const client = new Client({ name: 'connect-test', version: '1.0.0' })
    try {
      await client.connect(transport)
      const tools = (await client.listTools()).tools.map((t) => t.name).sort()
      const status = await client.callTool({ name: 'get_status', arguments: {} })
      return { tools, nodeId: (status.structuredContent as { node_id?: unknown } | undefined)?.node_id }
    } catch (err) {
      throw new Error(`${(err as Error).message}\nmcp-remote said:\n${stderr.slice(-3000)}`)
    } finally {
      await client.close()
    }
  }

  before(async () => {
    node = await fleet.start({ args: ['--name', 'connect-test'] })
    home = fleet.tempDir()
  })
  after(async () => { await fleet.cleanup() })

  it('pins the bridge it configures to the version the tests run', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
    assert.equal(`mcp-remote@${pkg.devDependencies['mcp-remote']}`, MCP_REMOTE)
  })

  it('prints a Claude Desktop configuration whose command connects, lists and calls tools with tokens it gets itself', async () => {
    const r = await connect(['claude', '--client', 'claude-test'])
    assert.equal(r.code, 0, r.stderr)
    const json = r.stdout.slice(r.stdout.indexOf('{'), r.stdout.lastIndexOf('}') + 1)
    const config = JSON.parse(json) as { mcpServers: Record<string, Launch> }
    const [name, launch] = Object.entries(config.mcpServers)[0]!
    assert.equal(name, 'edge-hive-connect-test')
    assert.ok(launch.args.includes(node.ready.mcp_url))
    assert.ok(!launch.args.join(' ').includes(launch.env.EDGE_HIVE_CLIENT_SECRET!), 'the secret is in the environment, not on the command line')
    assert.equal(launch.env.NODE_EXTRA_CA_CERTS, join(node.dataDir, 'tls', 'cert.pem'))
    const seen = await drive(launch)
    assert.deepEqual(seen.tools, ['get_status', 'list_peers'])
    assert.equal(seen.nodeId, node.ready.node_id)
  })

  it('writes a VS Code configuration into .vscode/mcp.json, keeping the servers already there, readable by its owner only', async () => {
    const work = fleet.tempDir()
    mkdirSync(join(work, '.vscode'))
    writeFileSync(join(work, '.vscode', 'mcp.json'), JSON.stringify({ servers: { other: { type: 'http', url: 'https://example.invalid/mcp' } } }))
    const r = await runCli(['connect', 'vscode', '--write', '--data-dir', node.dataDir], { env: cleanEnv({ HOME: home, PWD: work }), cwd: work })
    assert.equal(r.code, 0, r.stderr)
    const file = join(work, '.vscode', 'mcp.json')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const config = JSON.parse(readFileSync(file, 'utf8')) as { servers: Record<string, Launch & { type: string }> }
    assert.deepEqual(Object.keys(config.servers).sort(), ['edge-hive-connect-test', 'other'])
    assert.equal(config.servers['edge-hive-connect-test']!.type, 'stdio')
    assert.ok(!r.stdout.includes(config.servers['edge-hive-connect-test']!.env.EDGE_HIVE_CLIENT_SECRET!), 'the secret is written, not printed')
  })

  it('refuses an app it does not know, and a configuration file that is not JSON, without touching it', async () => {
    const unknown = await connect(['emacs'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /emacs is not an app this knows; give one of claude, vscode, cursor, inspector/)
    mkdirSync(join(home, '.cursor'), { recursive: true })
    writeFileSync(join(home, '.cursor', 'mcp.json'), '{ not json')
    const broken = await connect(['cursor', '--write'])
    assert.equal(broken.code, 2)
    assert.match(broken.stderr, /mcp\.json is not valid JSON/)
    assert.equal(readFileSync(join(home, '.cursor', 'mcp.json'), 'utf8'), '{ not json')
  })
})
