import { UsageError } from './errors.ts'

/** A libp2p peer id as text (base58btc, as `12D3KooW...`): the one pattern routes and the CLI check. */
export const PEER_ID_PATTERN = '^[1-9A-HJ-NP-Za-km-z]{46,60}$'

/** Refuses, in words a person understands, a command-line argument that is not a peer id. */
export function requirePeerId (text: string): void {
  if (!new RegExp(PEER_ID_PATTERN).test(text)) {
    throw new UsageError('peer_id', `${text.slice(0, 80)} is not a peer id (one looks like 12D3KooW followed by about 44 letters and digits; \`hive members\` and \`peers list\` show them)`)
  }
}
