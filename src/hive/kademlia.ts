import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { KEEP_ALIVE, type Libp2p } from '@libp2p/interface'
import { CAPS_DHT_NAMESPACE, capabilityValidator, refuseRecord, selectCapabilityRecord } from './dht-records.ts'

/** The hive's own Kademlia protocol id, so Edge Hive DHTs do not mix with the public IPFS one. */
export const KAD_PROTOCOL = '/edge-hive/kad/1.0.0'

/**
 * Kademlia's bucket size and query width. Its defaults (20 and 10) are made for a public DHT of
 * many thousands; in a hive nearly every query then reached, and every answer made the node dial,
 * nearly every member (measured, 30 nodes: about 60 dials per node while the hive formed, each
 * a whole connection). 8 and 3 (the paper's alpha) still find any peer in a few hops at the
 * scale of a hive, with a fraction of the dials.
 */
const KAD_BUCKET_SIZE = 8
const KAD_ALPHA = 3
/** The mark Kademlia puts on its closest peers (`KEEP_ALIVE` + `-kad-dht`): see keepNoKademliaMarks. */
const KAD_KEEP_ALIVE = `${KEEP_ALIVE}-kad-dht`
/**
 * Inbound DHT streams per connection (kad-dht's default is 32): a member's queries open one
 * stream per request, a few at a time.
 */
const DHT_MAX_INBOUND_STREAMS = 8

/** Kademlia as the hive runs it: its own protocol id, LAN addresses kept, members' adverts only. */
export function hiveKademlia (isMember: (peerId: string) => boolean): ReturnType<typeof kadDHT> {
  return kadDHT({
    protocol: KAD_PROTOCOL,
    clientMode: false,
    // The default mapper drops LAN and loopback addresses, which would leave a LAN hive empty.
    peerInfoMapper: passthroughMapper,
    maxInboundStreams: DHT_MAX_INBOUND_STREAMS,
    kBucketSize: KAD_BUCKET_SIZE,
    alpha: KAD_ALPHA,
    // Our key space only (the built-in `pk` namespace too is refused), members' adverts only:
    // see dht-records.ts for why the signer, not the sender, is what is checked.
    validators: { [CAPS_DHT_NAMESPACE]: capabilityValidator(isMember), pk: refuseRecord },
    selectors: { [CAPS_DHT_NAMESPACE]: selectCapabilityRecord }
  })
}

/**
 * Kademlia marks the 20 peers closest to this node's id KEEP_ALIVE, and libp2p dials a peer
 * with that mark again the moment its connection closes. Made for the public DHT; in a hive
 * of up to about 20 that is every member (a full mesh again), and it undoes each connection
 * the hive's degree keeping closes (measured, 30 nodes: three of every four dials were these
 * redials). Which members stay connected is the hive's to decide: the mark comes off as it
 * goes on. Kademlia still dials whom its queries need, and those connections are trimmed too.
 */
export function keepNoKademliaMarks (node: Libp2p): void {
  node.addEventListener('peer:update', (evt) => {
    const { peer } = evt.detail
    if (peer.tags.has(KAD_KEEP_ALIVE)) void node.peerStore.merge(peer.id, { tags: { [KAD_KEEP_ALIVE]: undefined } }).catch(() => undefined)
  })
}
