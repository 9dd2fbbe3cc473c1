import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { homedir } from 'node:os'
import { loadConfig, ConfigError, parseLogLevel, parseDuration } from '../../src/config/index.ts'
import { Fleet } from '../helpers/cli.ts'

const fleet = new Fleet()
after(async () => { await fleet.cleanup() })

function problemsOf (fn: () => unknown): ConfigError['problems'] {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    assert.equal(err.code, 'config_invalid')
    return err.problems
  }
  assert.fail('expected the configuration to be refused')
}

describe('configuration', () => {
  it('has working defaults', () => {
    const { config, sources } = loadConfig({ env: {} })
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.port, 8080)
    assert.equal(config.dataDir, join(homedir(), '.edge-hive'))
    assert.equal(config.store, `surrealkv://${join(homedir(), '.edge-hive', 'db')}`)
    assert.equal(config.publicUrl, 'https://127.0.0.1:8080')
    assert.equal(config.oauth2Issuer, 'https://127.0.0.1:8080')
    assert.equal(config.mcpEnabled, true)
    assert.equal(config.logLevel, 'info')
    assert.equal(config.shutdownTimeout, 10_000)
    assert.equal(sources.port, 'default')
  })

  it('resolves defaults < config file < environment < flags', () => {
    const dir = fleet.tempDir()
    const file = join(dir, 'edge-hive.yaml')
    writeFileSync(file, 'port: 9001\nnodeName: from-file\nhost: 127.0.0.2\nlogLevel: warn\n')
    const { config, sources } = loadConfig({
      configFile: file,
      env: { EDGE_HIVE_PORT: '9002', EDGE_HIVE_NODE_NAME: 'from-env' },
      flags: { port: '9003' }
    })
    assert.equal(config.port, 9003)
    assert.equal(sources.port, 'flag --port')
    assert.equal(config.nodeName, 'from-env')
    assert.equal(sources.nodeName, 'environment variable EDGE_HIVE_NODE_NAME')
    assert.equal(config.host, '127.0.0.2')
    assert.equal(sources.host, `config file ${file}`)
    assert.equal(config.logLevel, 'warn')
    // Derived defaults follow the resolved values they depend on.
    assert.equal(config.publicUrl, 'https://127.0.0.2:9003')
  })

  it('reads JSON config files and EDGE_HIVE_CONFIG', () => {
    const dir = fleet.tempDir()
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ port: 7000, mcpEnabled: false, dataDir: dir }))
    const { config } = loadConfig({ env: { EDGE_HIVE_CONFIG: file } })
    assert.equal(config.port, 7000)
    assert.equal(config.mcpEnabled, false)
    assert.equal(config.store, `surrealkv://${join(dir, 'db')}`)
  })

  it('names the setting, its source and what is allowed for a bad value', () => {
    const [p] = problemsOf(() => loadConfig({ env: { EDGE_HIVE_PORT: 'eighty' } }))
    assert.equal(p!.setting, 'port')
    assert.equal(p!.source, 'environment variable EDGE_HIVE_PORT')
    assert.match(p!.message, /"eighty" is not allowed; expected a whole number from 0 to 65535/)
  })

  it('lists every problem at once, from every source', () => {
    const dir = fleet.tempDir()
    const file = join(dir, 'c.yaml')
    writeFileSync(file, 'bodyLimit: 5\nnoSuchSetting: 1\n')
    const problems = problemsOf(() => loadConfig({ configFile: file, env: { EDGE_HIVE_MCP_ENABLED: 'maybe' }, flags: { port: '70000' } }))
    const bySetting = Object.fromEntries(problems.map((p) => [p.setting, p.source]))
    assert.equal(bySetting.bodyLimit, `config file ${file}`)
    assert.equal(bySetting.noSuchSetting, `config file ${file}`)
    assert.equal(bySetting.mcpEnabled, 'environment variable EDGE_HIVE_MCP_ENABLED')
    assert.equal(bySetting.port, 'flag --port')
  })

  it('refuses unknown EDGE_HIVE_ variables instead of ignoring a typo', () => {
    const [p] = problemsOf(() => loadConfig({ env: { EDGE_HIVE_PROT: '80' } }))
    assert.equal(p!.setting, 'EDGE_HIVE_PROT')
  })

  it('does not echo a secret value it refuses', () => {
    const [p] = problemsOf(() => loadConfig({ env: { EDGE_HIVE_STORE_PASSWORD: 'hunter2\u0007' } }))
    assert.equal(p!.setting, 'storePassword')
    assert.doesNotMatch(p!.message, /hunter2/)
  })

  it('needs tlsCert and tlsKey together', () => {
    const [p] = problemsOf(() => loadConfig({ env: {}, flags: { tlsCert: '/x.pem' } }))
    assert.equal(p!.setting, 'tlsCert')
    assert.match(p!.message, /together/)
  })

  it('refuses unreadable or malformed config files', () => {
    const [missing] = problemsOf(() => loadConfig({ configFile: '/no/such/file.yaml', env: {} }))
    assert.match(missing!.message, /cannot be read: ENOENT/)
    const dir = fleet.tempDir()
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'port: [1, 2\n')
    const [p] = problemsOf(() => loadConfig({ configFile: bad, env: {} }))
    assert.match(p!.message, /neither valid JSON nor YAML/)
    const list = join(dir, 'list.yaml')
    writeFileSync(list, '- 1\n- 2\n')
    const [q] = problemsOf(() => loadConfig({ configFile: list, env: {} }))
    assert.match(q!.message, /mapping/)
  })

  it('derives a dialable public URL from a wildcard bind address', () => {
    const { config } = loadConfig({ env: { EDGE_HIVE_HOST: '0.0.0.0' } })
    assert.doesNotMatch(config.publicUrl, /0\.0\.0\.0/)
    const explicit = loadConfig({ env: { EDGE_HIVE_HOST: '0.0.0.0', EDGE_HIVE_OAUTH2_ISSUER: 'https://node1:8080/' } })
    assert.equal(explicit.config.oauth2Issuer, 'https://node1:8080')
  })

  it('accepts RUST_LOG-style log levels', () => {
    assert.equal(parseLogLevel('debug'), 'debug')
    assert.equal(parseLogLevel('edge_hive=debug,libp2p=info'), 'debug')
    assert.equal(parseLogLevel('warn,edge_hive=trace'), 'trace')
    assert.equal(parseLogLevel('libp2p=debug'), 'info')
    assert.equal(parseLogLevel('WARNING'), 'warn')
    assert.equal(parseLogLevel('loud'), undefined)
    assert.equal(parseLogLevel('edge_hive=loud'), undefined)
  })

  it('parses durations with units', () => {
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('30s'), 30_000)
    assert.equal(parseDuration('15m'), 900_000)
    assert.equal(parseDuration('1h'), 3_600_000)
    assert.equal(parseDuration('2'), 2000)
    assert.equal(parseDuration('soon'), undefined)
  })
})
