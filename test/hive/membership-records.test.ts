import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { foundHive, issueCredential, verifyChain, hiveIdOf } from '../../src/hive/membership/credential.ts'
import { createInvitation, readInvitation, INVITATION_PREFIX } from '../../src/hive/membership/invitation.ts'
import { signRemoval, verifyRemoval, mayRemove, type VerifiedRemoval } from '../../src/hive/membership/removal.ts'
import { sealRecord, openRecord, toText, fromText } from '../../src/hive/signed-record.ts'
import { sealCapabilities, openCapabilities, nodeIdOf } from '../../src/hive/protocols/caps.ts'
import { ReplayGuard } from '../../src/hive/protocols/auth.ts'
import { trustScore, freshStats } from '../../src/hive/trust.ts'

interface Member { key: PrivateKey, id: string }
const member = async (): Promise<Member> => {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}
const none = new Set<string>()

describe('signed hive records (libp2p signed envelopes)', () => {
  it('opens a record as its signer wrote it, and refuses it under another kind (signature domains)', async () => {
    const m = await member()
    const bytes = await sealRecord('membership', { hello: 'hive' }, m.key)
    assert.deepEqual(await openRecord('membership', bytes), { signer: m.id, doc: { hello: 'hive' } })
    await assert.rejects(openRecord('capabilities', bytes), { code: 'invalid_record' })
  })

  it('refuses a record with one byte changed', async () => {
    const m = await member()
    const bytes = await sealRecord('membership', { hello: 'hive' }, m.key)
    bytes[bytes.length - 70] = bytes[bytes.length - 70]! ^ 1
    await assert.rejects(openRecord('membership', bytes), { code: 'invalid_record' })
    assert.throws(() => fromText('not base64url!'), { code: 'invalid_record' })
  })
})

describe('membership credentials', () => {
  it('a chain from the founder through an inviting member proves the holder', async () => {
    const [founder, b, c] = [await member(), await member(), await member()]
    const { hiveId, chain } = await foundHive(founder.key, founder.id)
    assert.equal(hiveId, hiveIdOf(founder.id))
    const chainB = await issueCredential(founder.key, hiveId, chain, b.id)
    const chainC = await issueCredential(b.key, hiveId, chainB, c.id)
    assert.deepEqual(await verifyChain(chain, hiveId, founder.id, none), { ok: true, issuer: founder.id, path: [founder.id] })
    assert.deepEqual(await verifyChain(chainC, hiveId, c.id, none), { ok: true, issuer: b.id, path: [c.id, b.id, founder.id] })
  })

  it('refuses a chain presented by another peer, for another hive, self-made, or through a removed member', async () => {
    const [founder, b, c, mallory] = [await member(), await member(), await member(), await member()]
    const { hiveId, chain } = await foundHive(founder.key, founder.id)
    const chainB = await issueCredential(founder.key, hiveId, chain, b.id)
    const chainC = await issueCredential(b.key, hiveId, chainB, c.id)
    assert.deepEqual(await verifyChain(chainB, hiveId, mallory.id, none), { ok: false, reason: 'not_holder' })
    assert.deepEqual(await verifyChain(chainB, hiveIdOf(mallory.id), b.id, none), { ok: false, reason: 'other_hive' })
    // Mallory founds her own hive and signs herself into the founder's hive id: the chain does not end in the founder.
    const forged = await issueCredential(mallory.key, hiveId, (await foundHive(mallory.key, mallory.id)).chain, mallory.id)
    assert.equal((await verifyChain(forged, hiveId, mallory.id, none)).ok, false)
    // A chain with a link cut out.
    assert.deepEqual(await verifyChain([chainC[0]!, chain[0]!], hiveId, c.id, none), { ok: false, reason: 'broken' })
    assert.deepEqual(await verifyChain(chainC, hiveId, c.id, new Set([b.id])), { ok: false, reason: 'removed' })
    // B invited again below its own invitee: a circular chain.
    const loop = await issueCredential(c.key, hiveId, chainC, b.id)
    assert.deepEqual(await verifyChain(loop, hiveId, b.id, none), { ok: false, reason: 'broken' })
    for (const bad of [[], 'x', [42], new Array(17).fill(chain[0])]) assert.deepEqual(await verifyChain(bad, hiveId, founder.id, none), { ok: false, reason: 'malformed' })
  })
})

describe('invitations and removals', () => {
  it('an invitation token carries the inviter\'s signature; a damaged one is refused', async () => {
    const a = await member()
    const { token, doc } = await createInvitation(a.key, { hive: hiveIdOf(a.id), inviter: a.id, ttlMs: 60_000, addrs: ['/ip4/10.0.0.1/tcp/4001'] })
    assert.ok(token.startsWith(INVITATION_PREFIX))
    assert.deepEqual(await readInvitation(token), doc)
    await assert.rejects(readInvitation(token.slice(0, -8) + 'AAAAAAAA'), { code: 'invalid_invitation' })
    await assert.rejects(readInvitation('hello'), { code: 'invalid_invitation' })
  })

  it('a removal verifies only when a member of the hive signed it', async () => {
    const [founder, b, outsider] = [await member(), await member(), await member()]
    const { hiveId, chain } = await foundHive(founder.key, founder.id)
    const good = await signRemoval(founder.key, hiveId, b.id, chain)
    assert.equal((await verifyRemoval(good, hiveId, none) as VerifiedRemoval).peer, b.id)
    assert.deepEqual((await verifyRemoval(good, hiveId, none) as VerifiedRemoval).byPath, [founder.id])
    assert.equal(await verifyRemoval(good, hiveId, none, (peer) => peer === b.id), 'skipped')
    const bad = await signRemoval(outsider.key, hiveId, b.id, chain)
    assert.equal(await verifyRemoval(bad, hiveId, none), undefined)
    assert.equal(await verifyRemoval(good, hiveId, new Set([founder.id])), undefined, 'a removed member cannot remove others')
  })
})

describe('who may remove whom', () => {
  // founder F invited A and B; A invited A1; A1 invited A2.
  const F = 'F'
  const path = { F: [F], A: ['A', F], B: ['B', F], A1: ['A1', 'A', F], A2: ['A2', 'A1', 'A', F] }
  const may = (remover: keyof typeof path, target: keyof typeof path, known = true): string =>
    mayRemove({ founder: F, remover, removerPath: path[remover], target, targetPath: known ? path[target] : undefined })

  it('never the founder, never oneself, never an ancestor of one\'s own chain', () => {
    assert.equal(may('A', 'F'), 'founder')
    assert.equal(may('F', 'F'), 'founder')
    assert.equal(may('A', 'A'), 'self')
    assert.equal(may('A1', 'A'), 'own_ancestor')
    assert.equal(may('A2', 'A'), 'own_ancestor')
  })

  it('the founder removes anyone else; a member removes those it is an ancestor of, no one else', () => {
    assert.equal(may('F', 'A2'), 'allowed')
    assert.equal(may('F', 'B', false), 'allowed', 'the founder needs no chain of the target')
    assert.equal(may('A', 'A1'), 'allowed')
    assert.equal(may('A', 'A2'), 'allowed', 'an invitee\'s invitee')
    assert.equal(may('B', 'A1'), 'not_ancestor')
    assert.equal(may('A', 'B'), 'not_ancestor', 'a sibling')
    assert.equal(may('A1', 'B', false), 'unknown_chain')
  })
})

describe('capability adverts', () => {
  it('accepts an advert signed by the peer it names, refuses one in another\'s name', async () => {
    const [a, b] = [await member(), await member()]
    const doc = { peer_id: a.id, node_id: nodeIdOf(a.id), seq: 5 }
    assert.deepEqual(await openCapabilities(await sealCapabilities(a.key, doc), a.id), doc)
    // Signed by the member it names, but claiming another member's node id (requests are routed by node id).
    await assert.rejects(openCapabilities(await sealCapabilities(a.key, { ...doc, node_id: nodeIdOf(b.id) }), a.id), { code: 'protocol_violation', message: /node id/ })
    await assert.rejects(openCapabilities(await sealCapabilities(b.key, doc), a.id), { code: 'protocol_violation' })
    await assert.rejects(openCapabilities(await sealCapabilities(a.key, doc), b.id), { code: 'protocol_violation' })
    await assert.rejects(openCapabilities(toText(new Uint8Array([1, 2, 3])), a.id), { code: 'protocol_violation' })
  })
})

describe('challenge replay memory and the trust formula', () => {
  it('accepts a signature once', () => {
    const g = new ReplayGuard()
    assert.equal(g.firstUse('sig-1'), true)
    assert.equal(g.firstUse('sig-1'), false)
    assert.equal(g.firstUse('sig-2'), true)
  })

  it('scores a proven, healthy member above a stranger, and bad messages lower it (README formula)', () => {
    const s = freshStats()
    assert.equal(trustScore(false, s), 0)
    assert.equal(trustScore(true, { ...s, authOk: 5, connectedMs: 3600_000 }), 1)
    assert.equal(trustScore(true, { ...s, authOk: 1 }), 0.74)
    assert.equal(trustScore(true, { ...s, authOk: 1, badMessages: 2 }), 0.44)
    assert.equal(trustScore(false, { ...s, authOk: 5 }), 0.2)
    assert.equal(trustScore(false, { ...s, authFailed: 3 }), 0)
  })
})
