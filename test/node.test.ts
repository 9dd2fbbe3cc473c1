import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { loadConfig } from '../src/config/index.ts'
import { createLogger } from '../src/shared/logger.ts'
import { EdgeNode } from '../src/node.ts'
import { tempDir, removeDir } from './helpers/cli.ts'

const quiet = (): ReturnType<typeof createLogger> => createLogger('error', { destination: new Writable({ write: (_c, _e, cb) => cb() }) })

describe('the node\'s start and stop', () => {
  const dir = tempDir()
  after(() => { removeDir(dir) })

  it('a stop while the node starts lets the start fail, then leaves the data dir free for the next start', async () => {
    // mem://: the embedded engine does not open one SurrealKV directory twice in a process, even closed.
    const { config } = loadConfig({ env: {}, flags: { dataDir: dir, host: '127.0.0.1', port: 0, store: 'mem://', p2pEnabled: false, metricsEnabled: false } })
    const first = new EdgeNode(config, quiet())
    const starting = first.start()
    await first.stop()
    await assert.rejects(starting)
    await assert.rejects(first.start(), /stopped/, 'a stopped node does not start again')
    const second = new EdgeNode(config, quiet())
    try {
      const summary = await second.start()
      assert.match(summary.localUrl, /^https:\/\/127\.0\.0\.1:\d+$/)
    } finally {
      await second.stop()
    }
  })
})
