import type { Connection } from '@libp2p/interface'
import type { Logger } from '../shared/logger.ts'
import type { HiveServiceInit } from './hive-service.ts'
import type { PeerDirectory } from './peer-directory.ts'
import type { Challenges } from './challenges.ts'
import type { Goodbyes } from './goodbyes.ts'
import { AUTH_PROTOCOL, LEGACY_AUTH_PROTOCOLS } from './protocols/auth.ts'
import { isRelayed } from './relay.ts'

export interface ConnectionEventsComponents {
  directory: Pick<PeerDirectory, 'connected' | 'disconnected' | 'addresses' | 'isTrusted'>
  challenges: Pick<Challenges, 'mayChallenge' | 'authenticate'>
  byes: Pick<Goodbyes, 'closed'>
  logger: Logger
  /** The connections open to a peer now. */
  connections (peer: string): Connection[]
}

/** What the hive does as connections open and close, and as identify tells what a peer speaks. */
export function connectionEvents (c: ConnectionEventsComponents): Pick<HiveServiceInit, 'opened' | 'disconnected' | 'identified'> {
  const log = c.logger
  return {
    opened: (conn) => {
      const peer = conn.remotePeer.toString()
      const where = { peer_id: peer, address: conn.remoteAddr.toString(), direction: conn.direction }
      c.directory.connected(peer, [conn.remoteAddr.toString()])
      if (isRelayed(conn.remoteAddr)) log.info(where, 'connected through a member relay')
      else if (c.connections(peer).some((o) => o !== conn && isRelayed(o.remoteAddr))) log.info(where, 'a direct connection to a peer reached through a relay (DCUtR)')
      // The dialling side starts the challenge (and shows its credential first): only towards a
      // peer it has reason to take for a member. Others must challenge us, and prove first.
      if (conn.direction === 'outbound' && c.challenges.mayChallenge(peer)) void c.challenges.authenticate(conn)
    },
    disconnected: (peer) => {
      const id = peer.toString()
      const wasTrusted = c.directory.isTrusted(id)
      c.directory.disconnected(id)
      if (wasTrusted) c.byes.closed(id)
    },
    identified: (evt) => {
      const id = evt.peerId.toString()
      c.directory.addresses(id, evt.listenAddrs.map((a) => `${a.toString()}/p2p/${id}`))
      if (c.challenges.mayChallenge(id) && !evt.protocols.includes(AUTH_PROTOCOL) && evt.protocols.some((p) => LEGACY_AUTH_PROTOCOLS.includes(p))) {
        log.warn({ peer_id: id }, 'a member runs an older Edge Hive whose hive protocols this version does not speak; upgrade it')
      }
    }
  }
}
