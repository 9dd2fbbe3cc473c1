import { JsonFrames, ProtocolViolation } from './framing.ts'

/**
 * `/edge-hive/members/1.0.0`: what members tell each other about the hive, `{ removals, members }`.
 * - `removals`: signed removals (see membership/removal.ts). All are sent after auth, and each new
 *   one when it is made or learnt, so removals reach members that connect later.
 * - `members`: some members the sender is connected to, with their addresses, so a new member
 *   dials them at once instead of waiting for mDNS or the DHT. Hints only: a peer is trusted
 *   after its own challenge, never because another member named it.
 * - `bye: true` (optional): the sender is about to close its connection on purpose (it holds more
 *   than it needs); the receiver does not take the close for the sender going down. Nodes that
 *   do not know the field ignore it.
 */
export const MEMBERS_PROTOCOL = '/edge-hive/members/1.0.0'
export const MAX_REMOVALS_PER_MESSAGE = 256
export const MAX_MEMBER_HINTS = 128
const MAX_ADDRS_PER_MEMBER = 8

export interface MemberHint { peer_id: string, addrs: string[] }

export async function pushMembers (f: JsonFrames, removals: string[], members: MemberHint[] = [], bye = false): Promise<void> {
  await f.write({
    removals: removals.slice(-MAX_REMOVALS_PER_MESSAGE),
    members: members.slice(0, MAX_MEMBER_HINTS).map((m) => ({ peer_id: m.peer_id, addrs: m.addrs.slice(0, MAX_ADDRS_PER_MEMBER) })),
    ...(bye ? { bye } : {})
  })
  await f.close()
}

export async function readMembers (f: JsonFrames): Promise<{ removals: unknown[], members: MemberHint[], bye: boolean }> {
  const m = await f.read()
  if (!Array.isArray(m.removals) || m.removals.length > MAX_REMOVALS_PER_MESSAGE) throw new ProtocolViolation('a malformed members message')
  const hints = m.members ?? []
  if (!Array.isArray(hints) || hints.length > MAX_MEMBER_HINTS) throw new ProtocolViolation('a malformed members message')
  const members: MemberHint[] = []
  for (const h of hints as Array<Record<string, unknown>>) {
    if (typeof h?.peer_id !== 'string' || !Array.isArray(h.addrs) || h.addrs.length > MAX_ADDRS_PER_MEMBER || !h.addrs.every((a) => typeof a === 'string' && a.length <= 256)) {
      throw new ProtocolViolation('a malformed members message')
    }
    members.push({ peer_id: h.peer_id, addrs: h.addrs as string[] })
  }
  return { removals: m.removals, members, bye: m.bye === true }
}
