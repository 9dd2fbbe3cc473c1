import type { PrivateKey } from '@libp2p/interface'
import { sealRecord, openRecord, toText, fromText } from '../signed-record.ts'

/** The longest credential chain accepted (founder, then each inviting member down to the holder). */
export const MAX_CHAIN_LENGTH = 16

/**
 * A hive's id is its founder's peer id with a prefix. Ed25519 peer ids embed the public key,
 * so the id alone lets any node check that a chain ends in the founder's own signature.
 */
export function hiveIdOf (founderPeerId: string): string {
  return `hive-${founderPeerId}`
}

/** The founder's peer id, from a hive id. */
export function founderOf (hiveId: string): string {
  return hiveId.startsWith('hive-') ? hiveId.slice('hive-'.length) : ''
}

/** A membership credential says: `peer` belongs to `hive`, signed by an existing member. */
export interface CredentialDoc {
  hive: string
  peer: string
  issued_at: string
}

/** Makes a new hive with this node as its founder: the chain is one self-signed credential. */
export async function foundHive (key: PrivateKey, peerId: string): Promise<{ hiveId: string, chain: string[] }> {
  const hiveId = hiveIdOf(peerId)
  const doc: CredentialDoc = { hive: hiveId, peer: peerId, issued_at: new Date().toISOString() }
  return { hiveId, chain: [toText(await sealRecord('membership', doc, key))] }
}

/** Issues a credential for `peer`, signed by this member; the new chain is it followed by the issuer's. */
export async function issueCredential (key: PrivateKey, hiveId: string, issuerChain: string[], peer: string): Promise<string[]> {
  const doc: CredentialDoc = { hive: hiveId, peer, issued_at: new Date().toISOString() }
  return [toText(await sealRecord('membership', doc, key)), ...issuerChain].slice(0, MAX_CHAIN_LENGTH + 1)
}

/**
 * `path` is the chain's subjects from the holder up to the founder: the holder, the member who
 * invited it, that member's inviter, and so on (the removal rule reads it).
 */
export type ChainCheck = { ok: true, issuer: string, path: string[] } | { ok: false, reason: 'malformed' | 'other_hive' | 'not_holder' | 'broken' | 'removed' }

/**
 * Checks that `chain` proves `holder` belongs to `hiveId`: each credential is signed by the
 * subject of the next, the last is the founder's own, and no one on it was removed. A chain
 * through a removed member is refused as a whole: otherwise a removed member could go on
 * issuing credentials to new keys of its own.
 */
export async function verifyChain (chain: unknown, hiveId: string, holder: string, removed: ReadonlySet<string>): Promise<ChainCheck> {
  if (!Array.isArray(chain) || chain.length === 0 || chain.length > MAX_CHAIN_LENGTH || !chain.every((c) => typeof c === 'string')) {
    return { ok: false, reason: 'malformed' }
  }
  const links: Array<{ signer: string, doc: Record<string, unknown> }> = []
  for (const text of chain as string[]) {
    try {
      links.push(await openRecord('membership', fromText(text)))
    } catch {
      return { ok: false, reason: 'malformed' }
    }
  }
  for (const l of links) {
    if (typeof l.doc.peer !== 'string' || typeof l.doc.hive !== 'string') return { ok: false, reason: 'malformed' }
    if (l.doc.hive !== hiveId) return { ok: false, reason: 'other_hive' }
    if (removed.has(l.doc.peer) || removed.has(l.signer)) return { ok: false, reason: 'removed' }
  }
  if (links[0]!.doc.peer !== holder) return { ok: false, reason: 'not_holder' }
  for (let i = 0; i < links.length - 1; i++) {
    if (links[i]!.signer !== links[i + 1]!.doc.peer) return { ok: false, reason: 'broken' }
  }
  // A peer twice on one chain (invited again below itself) makes ancestry circular: refused.
  const path = links.map((l) => l.doc.peer as string)
  if (new Set(path).size !== path.length) return { ok: false, reason: 'broken' }
  const founder = links[links.length - 1]!
  if (founder.signer !== founder.doc.peer || hiveIdOf(founder.signer) !== hiveId) return { ok: false, reason: 'broken' }
  return { ok: true, issuer: links[0]!.signer, path }
}
