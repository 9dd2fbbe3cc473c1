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

/** A removal whose signature and remover's chain verify; `byPath` is the remover's chain (itself up to the founder). */
export interface VerifiedRemoval { peer: string, by: string, at: Date, byPath: string[] }

/**
 * Checks a removal record: signed by a member of `hive` who was not removed before. Returns the
 * removed peer, the remover and its chain, or undefined for anything that does not verify
 * ('skipped' when `skip` said so).
 * Whether this remover may remove this peer is `mayRemove`'s question. `skip` is asked once the
 * envelope's own signature verified and before the remover's chain is (up to 16 more signatures):
 * a removal already applied costs one verification, not seventeen.
 */
export async function verifyRemoval (record: unknown, hive: string, removed: ReadonlySet<string>, skip: (peer: string) => boolean = () => false): Promise<VerifiedRemoval | 'skipped' | undefined> {
  if (typeof record !== 'string') return undefined
  try {
    const { signer, doc } = await openRecord('removal', fromText(record))
    if (doc.hive !== hive || typeof doc.peer !== 'string' || typeof doc.removed_at !== 'string') return undefined
    if (skip(doc.peer)) return 'skipped'
    const at = new Date(doc.removed_at)
    if (Number.isNaN(at.getTime())) return undefined
    const check = await verifyChain(doc.by_chain, hive, signer, removed)
    return check.ok ? { peer: doc.peer, by: signer, at, byPath: check.path } : undefined
  } catch {
    return undefined
  }
}

export type RemovalVerdict = 'allowed' | 'founder' | 'self' | 'own_ancestor' | 'not_ancestor' | 'unknown_chain'

/**
 * Who may remove whom (docs/hive.md, "Removing members"). A hive is a tree of invitations rooted at the
 * founder, and every member's chain runs through its ancestors; removing one refuses every chain
 * through it. So:
 * - the founder is never removed (every chain ends in it: the hive would be gone);
 * - no one removes an ancestor of its own chain (it would cut itself off), nor itself;
 * - the founder may remove anyone else, and any member may remove those it is an ancestor of
 *   (its own invitees and theirs, all the way down).
 * `targetPath` is the target's chain as the target itself presented it (holder up to founder),
 * undefined when it is not known: a chain that a remover signs for the target itself would
 * make anyone an ancestor of anyone, so only the target's own counts.
 */
export function mayRemove (r: { founder: string, remover: string, removerPath: readonly string[], target: string, targetPath?: readonly string[] | undefined }): RemovalVerdict {
  if (r.target === r.founder) return 'founder'
  if (r.target === r.remover) return 'self'
  if (r.removerPath.includes(r.target)) return 'own_ancestor'
  if (r.remover === r.founder) return 'allowed'
  if (r.targetPath === undefined) return 'unknown_chain'
  return r.targetPath.slice(1).includes(r.remover) ? 'allowed' : 'not_ancestor'
}
