import { listenError, messageOf } from '../shared/errors.ts'

/** No address of the peer is known, or none answered. */
export class PeerNotFound extends Error {
  readonly code = 'ERR_PEER_NOT_FOUND'
}

/**
 * libp2p's refusal to start when an address cannot be listened on (a paragraph with a stack
 * per address, telling to set an option of its own) as one line naming the flag to change.
 */
export function p2pListenError (err: unknown): unknown {
  const text = messageOf(err)
  const failed = /^\s*(\/\S+): (?:\w*Error: )?(.*)$/m.exec(text)
  if (failed === null) return err
  const [, address, reason] = failed as unknown as [string, string, string]
  const port = Number(/\/(?:tcp|udp)\/(\d+)/.exec(address)?.[1] ?? 4001)
  return listenError(new Error(reason), 'the P2P host', address, '--p2p-listen', address.replace(/\/(tcp|udp)\/\d+/, `/$1/${port + 1}`))
}
