// What the two MCP test files share (mcp.test.ts: the official SDK clients, notifications and
// resumability; mcp-sessions.test.ts: sessions and refusals): the client fixtures, the node the
// tests talk to with its clients and tokens, and the SSE streams they open. Not a test.
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { caOf, cleanEnv, type Fleet, type NodeProcess } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'
import { getToken, operatorClient } from '../helpers/tokens.ts'
import { RawMcp, type SseStream } from '../fixtures/mcp-raw.ts'

const exec = promisify(execFile)
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))
export const CLIENT_V2 = fixture('mcp-client-v2.ts')
export const CLIENT_V2_MORE = fixture('mcp-client-v2-more.ts')
export const CLIENT_V1 = fixture('mcp-client-v1.ts')

export const LATEST = 'edge-hive://logs/latest'
export const NODE_INFO = 'edge-hive://node/info'
export const ALL_TOOLS = ['get_status', 'list_peers', 'provision_node']

/** Runs a client fixture in its own process, trusting the node's certificate; returns its JSON. */
export async function runClient (file: string, node: NodeProcess, args: string[]): Promise<Record<string, any>> {
  const { stdout } = await exec(process.execPath, [file, ...args], {
    env: cleanEnv({ NODE_EXTRA_CA_CERTS: join(node.dataDir, 'tls', 'cert.pem') }), timeout: 30_000
  })
  return JSON.parse(stdout) as Record<string, any>
}

export async function accessToken (node: NodeProcess, clientId: string, secret: string, scope?: string): Promise<string> {
  const res = await getToken(node.url, clientId, secret, scope === undefined ? {} : { scope })
  assert.equal(res.status, 200, res.body)
  return res.json<{ access_token: string }>().access_token
}

export { caOf }

export interface Client { client_id: string, client_secret: string }

/** Adds an OAuth client through the admin API: one audit entry, so one log update. */
export async function addClientTo (node: NodeProcess, ca: string, opToken: string, name: string, scopes: string[]): Promise<Client> {
  const res = await request1(`${node.url}/admin/clients`, {
    ca, method: 'POST', headers: { authorization: `Bearer ${opToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, scopes })
  })
  assert.equal(res.status, 201, res.body)
  const body = res.json<{ client: { client_id: string }, client_secret: string }>()
  return { client_id: body.client.client_id, client_secret: body.client_secret }
}

/** The node most tests talk to, and what they talk to it with. */
export interface MainNode {
  node: NodeProcess
  ca: string
  op: Client
  /** Every scope: mcp:read mcp:call mcp:resources mcp:admin. */
  opToken: string
  /** Another client, registered with mcp:read and mcp:call only. */
  rc: Client
  rcToken: string
  /** Raw MCP requests with the operator's token. */
  mcp: RawMcp
}

/** Starts the node most tests talk to (named mcp-e2e) in `fleet`, and gets the operator's token and a client of fewer scopes. */
export async function startMain (fleet: Fleet): Promise<MainNode> {
  const node = await fleet.start({ args: ['--name', 'mcp-e2e'] })
  const ca = caOf(node)
  const op = operatorClient(node.dataDir)
  const opToken = await accessToken(node, op.client_id, op.client_secret)
  const rc = await addClientTo(node, ca, opToken, 'reader-caller', ['mcp:read', 'mcp:call'])
  const rcToken = await accessToken(node, rc.client_id, rc.client_secret)
  return { node, ca, op, opToken, rc, rcToken, mcp: new RawMcp(node.ready.mcp_url, ca, opToken) }
}

/** Keeps the SSE streams of a describe block, all dropped after it (also when a test fails). */
export function keptStreams (): (s: SseStream) => SseStream {
  const streams: SseStream[] = []
  after(() => { for (const s of streams) s.drop() })
  return (s) => { streams.push(s); return s }
}
