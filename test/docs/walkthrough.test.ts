// docs/walkthrough.md is pasted into shells by agent developers: its shell block runs here,
// unchanged, against a real node, and what the doc says to look for is checked.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { CLI, Fleet, cleanEnv, type NodeProcess } from '../helpers/cli.ts'

const exec = promisify(execFile)
const DOC = readFileSync(new URL('../../docs/walkthrough.md', import.meta.url), 'utf8')

describe('docs/walkthrough.md', () => {
  const fleet = new Fleet()
  let node: NodeProcess
  before(async () => { node = await fleet.start({ args: ['--no-p2p'] }) })
  after(async () => { await fleet.cleanup() })

  it('runs as written, in both eras', async () => {
    const block = /```sh\n([\s\S]*?)```/.exec(DOC)?.[1]
    assert.ok(block !== undefined, 'the doc has a shell block')
    const { stdout } = await exec('bash', ['-euo', 'pipefail', '-c', block], {
      env: cleanEnv({ D: node.dataDir, NODE: node.url, EDGE_HIVE: `${process.execPath} ${CLI}` }), timeout: 60_000
    })
    assert.match(stdout, /^initialized: 202$/m)
    assert.match(stdout, /^session ended: 200$/m)
    const results = [...stdout.matchAll(/^(?:data: )?(\{"(?:result|jsonrpc)".*\})$/gm)].map((m) => JSON.parse(m[1]!) as { id?: number, result?: Record<string, unknown> }).filter((m) => m.result !== undefined)
    assert.equal(results.length, 5, `two results in the 2025 era, three in the 2026 era:\n${stdout}`)
    const [status, info, discover, status26, info26] = results.map((r) => r.result!)
    for (const s of [status, status26]) assert.equal((s!.structuredContent as { node_id?: string }).node_id, node.ready.node_id)
    for (const i of [info, info26]) assert.equal(JSON.parse((i!.contents as Array<{ text: string }>)[0]!.text).node_id, node.ready.node_id)
    assert.deepEqual(discover!.supportedVersions, ['2026-07-28'])
  })
})
