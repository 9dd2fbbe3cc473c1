import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { loadOrCreateIdentity, loadOrCreateSelfSigned, nodeIdFromPublicKey, NODE_ID_PATTERN } from '../../src/identity/index.ts'
import { StartupError } from '../../src/shared/errors.ts'
import { Fleet } from '../helpers/cli.ts'

const fleet = new Fleet()
after(async () => { await fleet.cleanup() })

describe('node identity', () => {
  it('makes an Ed25519 key on first start, 0600, and loads the same identity after', async () => {
    const file = join(fleet.tempDir(), 'identity.key')
    const made = await loadOrCreateIdentity(file)
    assert.equal(made.created, true)
    assert.equal(made.privateKey.type, 'Ed25519')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.match(made.peerId.toString(), /^12D3KooW/)
    assert.match(made.nodeId, NODE_ID_PATTERN)
    const again = await loadOrCreateIdentity(file)
    assert.equal(again.created, false)
    assert.equal(again.peerId.toString(), made.peerId.toString())
    assert.equal(again.nodeId, made.nodeId)
  })

  it('derives the node id deterministically, and differently for other keys', async () => {
    const a = await generateKeyPair('Ed25519')
    const b = await generateKeyPair('Ed25519')
    assert.equal(nodeIdFromPublicKey(a.publicKey.raw), nodeIdFromPublicKey(a.publicKey.raw))
    assert.notEqual(nodeIdFromPublicKey(a.publicKey.raw), nodeIdFromPublicKey(b.publicKey.raw))
    // Pinned: the derivation must never change between versions, or nodes would get new ids.
    assert.equal(nodeIdFromPublicKey(new Uint8Array(32)), nodeIdFromPublicKey(new Uint8Array(32)))
    assert.equal(nodeIdFromPublicKey(new Uint8Array(32)), 'swift-koala-49d312')
  })

  it('refuses a damaged key file with a clear error instead of making a new identity', async () => {
    const file = join(fleet.tempDir(), 'identity.key')
    writeFileSync(file, 'not a key')
    await assert.rejects(loadOrCreateIdentity(file), (err: unknown) => err instanceof StartupError && err.code === 'identity' && /cannot be read/.test(err.message))
  })
})

describe('self-signed TLS certificate', () => {
  const names = ['localhost', '127.0.0.1', '::1', 'brave-otter-abcdef']

  it('is ECDSA P-256, names every host, and its key is 0600', async () => {
    const dir = fleet.tempDir()
    const tls = await loadOrCreateSelfSigned(join(dir, 'cert.pem'), join(dir, 'key.pem'), names)
    assert.equal(tls.created, true)
    const cert = new X509Certificate(tls.cert)
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec')
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
    assert.equal(cert.checkHost('localhost'), 'localhost')
    assert.equal(cert.checkHost('brave-otter-abcdef'), 'brave-otter-abcdef')
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(cert.checkIP('::1'), '::1')
    assert.equal(cert.fingerprint256, tls.fingerprint)
    assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600)
  })

  it('is reused on restart, and made anew when it no longer names the node', async () => {
    const dir = fleet.tempDir()
    const first = await loadOrCreateSelfSigned(join(dir, 'cert.pem'), join(dir, 'key.pem'), names)
    const again = await loadOrCreateSelfSigned(join(dir, 'cert.pem'), join(dir, 'key.pem'), names)
    assert.equal(again.created, false)
    assert.equal(again.fingerprint, first.fingerprint)
    const renamed = await loadOrCreateSelfSigned(join(dir, 'cert.pem'), join(dir, 'key.pem'), [...names, 'new-host'])
    assert.equal(renamed.created, true)
    assert.match(renamed.renewedBecause ?? '', /new-host/)
  })
})
