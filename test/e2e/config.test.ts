import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Fleet, runCli, cleanEnv } from '../helpers/cli.ts'
import { request1 } from '../helpers/https.ts'

const exec = promisify(execFile)

describe('serve configuration from the command line', () => {
  const fleet = new Fleet()
  after(async () => { await fleet.cleanup() })

  it('exits 2 on a bad environment value, naming it, before creating or binding anything', async () => {
    const dir = join(fleet.tempDir(), 'never-made')
    const r = await runCli(['serve', '--data-dir', dir], { env: cleanEnv({ EDGE_HIVE_PORT: 'eighty' }) })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /port \(from environment variable EDGE_HIVE_PORT\): "eighty" is not allowed; expected a whole number from 0 to 65535/)
    assert.equal(existsSync(dir), false, 'no data dir made')
  })

  it('exits 2 on a bad flag value and on a bad config file value', async () => {
    const flag = await runCli(['serve', '--port', '99999'])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /port \(from flag --port\)/)
    const dir = fleet.tempDir()
    const file = join(dir, 'edge.yaml')
    writeFileSync(file, 'logLevel: shouting\n')
    const fromFile = await runCli(['serve', '--config', file])
    assert.equal(fromFile.code, 2)
    assert.match(fromFile.stderr, new RegExp(`logLevel \\(from config file ${file}\\)`))
    assert.doesNotMatch(fromFile.stderr, /\n\s+at /, 'no stack trace')
  })

  it('reports a data dir that cannot be created, without a stack trace', async () => {
    const dir = fleet.tempDir()
    const file = join(dir, 'a-file')
    writeFileSync(file, '')
    const r = await runCli(['serve', '--data-dir', join(file, 'sub'), '--port', '0'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /cannot create data directory .*a-file\/sub: ENOTDIR/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  })

  it('reports a port in use in one line naming the flag to change, exit 2 (issue 16)', async () => {
    const node = await fleet.start({ args: ['--p2p-listen', '/ip4/127.0.0.1/tcp/0'] })
    const port = new URL(node.url).port
    const https = await runCli(['serve', '--data-dir', fleet.tempDir(), '--port', port, '--store', 'mem://', '--no-p2p', '--metrics-port', '0'])
    assert.equal(https.code, 2)
    assert.match(https.stderr, new RegExp(`^edge-hive: the HTTPS server cannot listen on 127\\.0\\.0\\.1:${port}: .* --port `))
    // A second node on one machine with the first one's P2P port: libp2p's own refusal is a
    // paragraph with stack traces that names an option of its own.
    const p2p = node.ready.p2p_addrs[0]!.replace(/\/p2p\/.*$/, '')
    const second = await runCli(['serve', '--data-dir', fleet.tempDir(), '--port', '0', '--store', 'mem://', '--metrics-port', '0', '--p2p-listen', p2p])
    assert.equal(second.code, 2, second.stderr)
    assert.match(second.stderr, new RegExp(`^edge-hive: the P2P host cannot listen on ${p2p.replace(/\//g, '\\/')}: .* --p2p-listen /ip4/127\\.0\\.0\\.1/tcp/\\d+\\n$`))
    assert.doesNotMatch(second.stderr, /faultTolerance|\n\s+at /, 'nothing of libp2p\'s own message, no stack')
  })

  it('serves plain HTTP with --insecure-http and says so loudly', async () => {
    const node = await fleet.start({ args: ['--insecure-http'] })
    assert.match(node.url, /^http:\/\//)
    assert.equal(node.ready.tls_fingerprint, null)
    const res = await fetch(`${node.url}/healthz`)
    assert.equal(res.status, 200)
    const warning = node.logs.find((l) => l.level === 40 && /PLAIN HTTP/.test(String(l.msg)))
    assert.ok(warning, 'a warning about plain HTTP is logged')
    const status = await runCli(['status', '--json', '--data-dir', node.dataDir])
    assert.equal(JSON.parse(status.stdout).status, 'ready')
  })

  it('serves an operator certificate given with --tls-cert and --tls-key', async () => {
    const dir = fleet.tempDir()
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert])
    const { stdout } = await exec('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])
    const node = await fleet.start({ args: ['--tls-cert', cert, '--tls-key', key] })
    assert.equal(node.ready.tls_fingerprint, stdout.trim().split('=')[1])
    const { readFileSync } = await import('node:fs')
    const res = await request1(`${node.url}/healthz`, { ca: readFileSync(cert, 'utf8') })
    assert.equal(res.status, 200)
    assert.equal(existsSync(join(node.dataDir, 'tls', 'cert.pem')), false, 'no self-signed certificate made')
  })

  it('refuses a key that does not belong to the certificate', async () => {
    const dir = fleet.tempDir()
    for (const n of ['a', 'b']) {
      await exec('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=x',
        '-keyout', join(dir, `${n}.key`), '-out', join(dir, `${n}.pem`)
      ])
    }
    const r = await runCli(['serve', '--data-dir', join(dir, 'data'), '--port', '0', '--store', 'mem://', '--tls-cert', join(dir, 'a.pem'), '--tls-key', join(dir, 'b.key')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /does not belong to certificate/)
  })
})
