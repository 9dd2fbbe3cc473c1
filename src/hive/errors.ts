import { EdgeError } from '../shared/errors.ts'

/**
 * Hive errors. Those that reach an operator or a joining node carry a stable code; messages
 * about a peer's proof stay vague on purpose (a refused credential says it is refused, not
 * which check failed), as jose does for tokens.
 */
export class HiveError extends EdgeError {}

export const notAMember = (): HiveError => new HiveError('not_a_member')
export const alreadyAMember = (hiveId: string): HiveError =>
  new HiveError('already_a_member', `This node is already a member of hive ${hiveId}.`)
export const invalidInvitation = (why: string): HiveError =>
  new HiveError('invalid_invitation', `The invitation is refused: ${why}.`)
export const invalidRecord = (what: string): HiveError =>
  new HiveError('invalid_record', `${what} is malformed or not signed by the peer it names.`)
export const p2pDisabled = (): HiveError => new HiveError('p2p_disabled')
export const removeSelf = (): HiveError => new HiveError('remove_self')
/** `hive remove` broke the removal rule (membership/removal.ts, `mayRemove`). */
export const removeNotAllowed = (target: string, why: string): HiveError =>
  new HiveError('remove_not_allowed', `Cannot remove ${target}: ${why}.`)
