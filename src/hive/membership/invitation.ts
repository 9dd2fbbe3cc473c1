import { randomBytes, randomUUID } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { sealRecord, openRecord, toText, fromText } from '../signed-record.ts'
import { invalidInvitation } from '../errors.ts'
import { sha256 } from '../../shared/hash.ts'

/** Invitation tokens start with this, so a pasted token is recognisable (and findable by secret scanners). */
export const INVITATION_PREFIX = 'ehi_'
export const MAX_INVITATION_TTL_MS = 30 * 24 * 3600_000
export const MAX_INVITATION_USES = 1000

/** What an invitation says, signed by the inviting member. `secret` makes it a bearer token: only its hash is kept. */
export interface InvitationDoc {
  hive: string
  inviter: string
  id: string
  secret: string
  expires_at: number
  /** Where the inviter listens, so the new node can reach it without discovery. */
  addrs: string[]
}

export function hashInvitationSecret (secret: string): string {
  return `sha256$${sha256(secret)}`
}

export async function createInvitation (key: PrivateKey, init: { hive: string, inviter: string, ttlMs: number, addrs: string[] }): Promise<{ token: string, doc: InvitationDoc }> {
  const doc: InvitationDoc = {
    hive: init.hive,
    inviter: init.inviter,
    id: randomUUID(),
    secret: randomBytes(32).toString('base64url'),
    expires_at: Date.now() + init.ttlMs,
    addrs: init.addrs.slice(0, 16)
  }
  return { token: INVITATION_PREFIX + toText(await sealRecord('invitation', doc, key)), doc }
}

/** Reads a token and checks its signature and shape (not whether it is still usable: the inviter alone knows). */
export async function readInvitation (token: string): Promise<InvitationDoc> {
  const text = token.trim()
  if (!text.startsWith(INVITATION_PREFIX) || text.length > 8192) throw invalidInvitation('it is not an Edge Hive invitation token')
  let opened
  try {
    opened = await openRecord('invitation', fromText(text.slice(INVITATION_PREFIX.length)))
  } catch {
    throw invalidInvitation('it is damaged or its signature does not verify')
  }
  const d = opened.doc
  const ok = typeof d.hive === 'string' && d.inviter === opened.signer && typeof d.id === 'string' && typeof d.secret === 'string' &&
    typeof d.expires_at === 'number' && Array.isArray(d.addrs) && d.addrs.every((a) => typeof a === 'string')
  if (!ok) throw invalidInvitation('it is damaged or its signature does not verify')
  return d as unknown as InvitationDoc
}
