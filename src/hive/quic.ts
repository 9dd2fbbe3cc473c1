import type { quic } from '@chainsafe/libp2p-quic'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'

/** Whether a node has QUIC: loaded, not asked for (no QUIC address to listen on or bootstrap from), or not loadable here. */
export type QuicState = 'loaded' | 'off' | 'unavailable'

/** A QUIC address, judged by its first hop (a relayed address's relay may be reached over QUIC). */
export function isQuicAddress (addr: string): boolean {
  return addr.split('/p2p-circuit')[0]!.includes('/quic-v1')
}

/** Why a node without QUIC cannot dial a QUIC address, and what to do. */
export function noQuic (state: QuicState): string {
  return state === 'unavailable'
    ? 'QUIC is not available on this platform (its native module did not load), so this node cannot dial QUIC addresses: give the peer\'s TCP address'
    : 'this node does not listen on QUIC, so it cannot dial QUIC addresses: give the peer\'s TCP address, ' +
      'or add a QUIC listen address (--p2p-listen /ip4/0.0.0.0/udp/4001/quic-v1)'
}

/**
 * QUIC comes from a native module (@chainsafe/libp2p-quic); where it does not load (another
 * platform or libc), the host runs on TCP alone and says so, rather than failing to start.
 */
export async function loadQuic (log: Logger): Promise<ReturnType<typeof quic> | undefined> {
  try {
    const { quic } = await import('@chainsafe/libp2p-quic')
    return quic()
  } catch (err) {
    log.warn({ err: messageOf(err) }, 'QUIC is not available on this platform; listening on TCP only')
    return undefined
  }
}
