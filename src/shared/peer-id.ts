/** A libp2p peer id as text (base58btc, as `12D3KooW...`): the one pattern routes and the CLI check. */
export const PEER_ID_PATTERN = '^[1-9A-HJ-NP-Za-km-z]{46,60}$'

/** A peer id given on the command line, or a refusal a person understands. */
export function peerIdOrRefusal (text: string): { ok: true } | { ok: false, message: string } {
  return new RegExp(PEER_ID_PATTERN).test(text)
    ? { ok: true }
    : { ok: false, message: `${text.slice(0, 80)} is not a peer id (one looks like 12D3KooW followed by about 44 letters and digits; \`hive members\` and \`peers list\` show them)` }
}
