// The gate inside each MCP server, without the HTTP front: an official SDK client talks to a
// server built for one caller over an in-memory transport, so only the gate stands between a
// message and its handler (what a batch element or a method the front does not know would meet).
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Client, InMemoryTransport } from '@modelcontextprotocol/client'
import { Catalog, registerBuiltins, FORBIDDEN } from '../../src/mcp/index.ts'
import { buildMcpServer } from '../../src/mcp/server-factory.ts'

function catalog (): Catalog {
  const c = new Catalog({ nodeId: 'node-1', name: 'gate' })
  registerBuiltins(c, {
    info: () => ({ node_id: 'node-1' }) as never,
    listeningUrls: () => [],
    peers: () => [],
    audit: { append: async () => undefined, list: async () => [{ at: new Date(0), actor: 'x', action: 'secret.log.line', outcome: 'success' }], purge: async () => undefined },
    provisionClient: async () => ({ clientId: 'x' })
  })
  return c
}

async function connect (scopes: string[]): Promise<{ client: Client, close: () => Promise<void> }> {
  const cat = catalog()
  const { server, dispose } = buildMcpServer({ name: 'edge-hive', version: '0' }, cat, { clientId: 'c', scopes }, {}, true)
  const [a, b] = InMemoryTransport.createLinkedPair()
  await server.connect(a)
  const client = new Client({ name: 'gate-test', version: '1' })
  await client.connect(b)
  return { client, close: async () => { await client.close(); await server.close(); dispose() } }
}

describe('MCP message gate (finding 1: scopes enforced where each message is handled)', () => {
  const open: Array<() => Promise<void>> = []
  after(async () => { for (const c of open) await c() })

  it('refuses resources/read, resources/subscribe, resources/list and prompts/list to a token without their scope, with a JSON-RPC error naming it', async () => {
    const { client, close } = await connect(['mcp:call'])
    open.push(close)
    for (const [call, scope] of [
      [async () => await client.readResource({ uri: 'edge-hive://logs/latest' }), 'mcp:resources'],
      [async () => await client.subscribeResource({ uri: 'edge-hive://logs/latest' }), 'mcp:resources'],
      [async () => await client.listResources(), 'mcp:read'],
      [async () => await client.listResourceTemplates(), 'mcp:read'],
      [async () => await client.listPrompts(), 'mcp:read']
    ] as const) {
      await assert.rejects(call(), (err: Error & { code?: number }) => {
        assert.equal(err.code, FORBIDDEN)
        assert.match(err.message, new RegExp(scope))
        return true
      })
    }
    // What the token does allow still works on the same connection.
    const peers = await client.callTool({ name: 'list_peers', arguments: {} })
    assert.deepEqual(peers.structuredContent, { peers: [] })
  })

  it('serves the same messages to a token that holds the scopes', async () => {
    const { client, close } = await connect(['mcp:read', 'mcp:resources'])
    open.push(close)
    const read = await client.readResource({ uri: 'edge-hive://logs/latest' })
    assert.match(JSON.stringify(read.contents), /secret\.log\.line/)
    assert.ok((await client.listResources()).resources.length > 0)
  })
})
