import { createHash } from 'node:crypto'
import type { GossipsubOpts } from '@libp2p/gossipsub'

/** The largest gossip message read (an advert with its membership chain is a few KiB). */
export const MAX_GOSSIP_BYTES = 64 * 1024
/** What a peer that has not proven membership scores (times a weight of 1); see gossipOptions. */
const STRANGER_SCORE = -100

/**
 * Gossipsub as the hive runs it.
 *
 * - Messages are not signed by gossipsub (`StrictNoSign`): each carries records signed by the
 *   member they are about (adverts, removals), which is what receivers check, so a second
 *   signature would only cost a sign and a verify per message. Message ids are the SHA-256 of
 *   the data, so the same record relayed twice is one message.
 * - Gossipsub speaks to every connected peer that has the protocol; only proven members may take
 *   part. A peer that has not proven membership on its current connection scores -100, below
 *   the publish (-50) and gossip (-10) thresholds: nothing is published or gossiped to it and it
 *   is never in the mesh. It stays above the graylist threshold so its subscription (sent once,
 *   when the connection opens, before the challenge has run) is remembered for when it proves
 *   itself; its messages are refused by the hive's validator, which counts them against it.
 * - A smaller mesh than gossipsub's default (D 4 instead of 6, at most 8 instead of 12, gossip
 *   to 2 peers outside it instead of 6): each message reaches a member from each of its mesh
 *   peers, so every extra mesh peer is one more copy of every heartbeat (two writes each, with
 *   yamux's window update); members keep only `hiveDegree` (6) connections anyway.
 * - A member's own messages go to its mesh, as everyone else's do (`floodPublish` off; gossipsub
 *   sends them to every connected peer by default, a guard against a publisher's mesh being
 *   taken over, which in a hive of proven members is not the threat); and no IDONTWANT notices
 *   (gossipsub 1.2 sends one to every mesh peer for each message over 512 bytes, so every advert
 *   cost as many notices as copies). Measured at 30 members: packets at rest 145 → 108 a second.
 * - No IP colocation penalty: members behind one NAT, or a test on loopback, share an address,
 *   and connections per address are capped by the host already.
 */
export function gossipOptions (isTrusted: (peerId: string) => boolean): Partial<GossipsubOpts> {
  return {
    globalSignaturePolicy: 'StrictNoSign',
    D: 4,
    Dlo: 3,
    Dhi: 8,
    Dscore: 2,
    Dout: 1,
    Dlazy: 2,
    msgIdFn: (msg) => new Uint8Array(createHash('sha256').update(msg.data).digest()),
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    fallbackToFloodsub: false,
    floodPublish: false,
    idontwantMinDataSize: MAX_GOSSIP_BYTES,
    // A member behind NAT may be connected to some members only through a relay; should that
    // connection be limited (member relays set no limit: see relay.ts), gossip still runs on it.
    runOnLimitedConnection: true,
    doPX: false,
    maxInboundDataLength: MAX_GOSSIP_BYTES,
    maxTopicBytesPerPeer: 16 * 1024,
    scoreParams: {
      appSpecificScore: (peer: string) => isTrusted(peer) ? 0 : STRANGER_SCORE,
      appSpecificWeight: 1,
      IPColocationFactorWeight: 0
    },
    scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -10_000, acceptPXThreshold: 10, opportunisticGraftThreshold: 5 }
  }
}
