import type { PrivateKey } from '@libp2p/interface'
import { sealRecord, openRecord, toText, fromText } from '../signed-record.ts'
import { verifyChain } from './credential.ts'

/** A member's signed statement that `peer` no longer belongs to `hive`; it carries the remover's own chain so anyone can check it. */
export interface RemovalDoc {
  hive: string
  peer: string
  removed_at: string
  by_chain: string[]
}

export async function signRemoval (key: PrivateKey, hive: string, peer: string, byChain: string[]): Promise<string> {
  const doc: RemovalDoc = { hive, peer, removed_at: new Date().toISOString(), by_chain: byChain }
  return toText(await sealRecord('removal', doc, key))
}

/**
 * Checks a removal record: signed by a member of `hive` who was not removed before. Returns the
 * removed peer and the remover, or undefined for anything that does not verify.
 */
export async function verifyRemoval (record: unknown, hive: string, removed: ReadonlySet<string>): Promise<{ peer: string, by: string, at: Date } | undefined> {
  if (typeof record !== 'string') return undefined
  try {
    const { signer, doc } = await openRecord('removal', fromText(record))
    if (doc.hive !== hive || typeof doc.peer !== 'string' || typeof doc.removed_at !== 'string') return undefined
    const at = new Date(doc.removed_at)
    if (Number.isNaN(at.getTime())) return undefined
    const check = await verifyChain(doc.by_chain, hive, signer, removed)
    return check.ok ? { peer: doc.peer, by: signer, at } : undefined
  } catch {
    return undefined
  }
}
