import { EdgeError } from '../shared/errors.ts'

/**
 * Hive errors. Those that reach an operator or a joining node carry a stable code; messages
 * about a peer's proof stay vague on purpose (a refused credential says it is refused, not
 * which check failed), as jose does for tokens.
 */
export class HiveError extends EdgeError {}

export const notAMember = (): HiveError =>
  new HiveError('ERR_NOT_A_MEMBER', 'This node is not a member of a hive; run `edge-hive hive init` or `edge-hive hive join <token>` first.', { status: 409 })
export const alreadyAMember = (hiveId: string): HiveError =>
  new HiveError('ERR_ALREADY_A_MEMBER', `This node is already a member of hive ${hiveId}.`, { status: 409 })
export const invalidInvitation = (why: string): HiveError =>
  new HiveError('ERR_INVALID_INVITATION', `The invitation is refused: ${why}.`, { status: 400 })
export const invalidRecord = (what: string): HiveError =>
  new HiveError('ERR_INVALID_RECORD', `${what} is malformed or not signed by the peer it names.`, { status: 400 })
export const p2pDisabled = (): HiveError =>
  new HiveError('ERR_P2P_DISABLED', 'This node runs without its libp2p host (--no-p2p).', { status: 409 })
export const removeSelf = (): HiveError =>
  new HiveError('ERR_REMOVE_SELF', 'A node cannot remove itself; remove it from another member.', { status: 400 })
/** `hive remove` broke the removal rule (membership/removal.ts, `mayRemove`). */
export const removeNotAllowed = (target: string, why: string): HiveError =>
  new HiveError('ERR_REMOVE_NOT_ALLOWED', `Cannot remove ${target}: ${why}.`, { status: 403 })
