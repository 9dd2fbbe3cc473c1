import { JsonFrames, ProtocolViolation } from './framing.ts'

/**
 * `/edge-hive/members/1.0.0`: members tell each other of removals, `{ removals: [record, ...] }`,
 * each a signed removal (see membership/removal.ts). Sent after auth (everything known) and when
 * a removal is made or learnt (just the new one), so removals reach members that connect later.
 */
export const MEMBERS_PROTOCOL = '/edge-hive/members/1.0.0'
export const MAX_REMOVALS_PER_MESSAGE = 256

export async function pushRemovals (f: JsonFrames, records: string[]): Promise<void> {
  await f.write({ removals: records.slice(-MAX_REMOVALS_PER_MESSAGE) })
  await f.close()
}

export async function readRemovals (f: JsonFrames): Promise<unknown[]> {
  const m = await f.read()
  if (!Array.isArray(m.removals) || m.removals.length > MAX_REMOVALS_PER_MESSAGE) throw new ProtocolViolation('a malformed removals message')
  return m.removals
}
