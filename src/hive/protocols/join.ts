import { JsonFrames, ProtocolViolation } from './framing.ts'
import { printable } from '../../shared/text.ts'

/**
 * `/edge-hive/join/1.0.0`: a new node presents an invitation to the member that signed it.
 *
 *   joiner  -> { token }
 *   inviter <- { hive, chain } | { error, message }
 *
 * The only hive protocol open to non-members: the invitation is what admits them. The new
 * credential is bound to the peer id the Noise handshake proved, never to one the joiner names.
 */
export const JOIN_PROTOCOL = '/edge-hive/join/1.0.0'

export type JoinAnswer = { ok: true, hive: string, chain: string[] } | { ok: false, error: string, message: string }

export async function requestJoin (f: JsonFrames, token: string): Promise<JoinAnswer> {
  await f.write({ token })
  const m = await f.read()
  await f.close()
  if (typeof m.hive === 'string' && Array.isArray(m.chain) && m.chain.every((c) => typeof c === 'string')) return { ok: true, hive: m.hive, chain: m.chain as string[] }
  if (typeof m.error === 'string') return { ok: false, error: m.error.slice(0, 64), message: printable(typeof m.message === 'string' ? m.message : m.error, 500) }
  throw new ProtocolViolation('a malformed join answer')
}

export async function readJoinRequest (f: JsonFrames): Promise<string> {
  const m = await f.read()
  if (typeof m.token !== 'string' || m.token.length > 8192) throw new ProtocolViolation('a malformed join request')
  return m.token
}
