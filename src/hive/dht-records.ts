import { RecordEnvelope } from '@libp2p/peer-record'
import { peerIdFromString } from '@libp2p/peer-id'
import { openCapabilities } from './protocols/caps.ts'

/**
 * Capability adverts in the Kademlia DHT, under `/edge-hive-caps/<peer id>`: the only records
 * the hive's DHT keeps. A record is kept only if the peer its key names is a proven member of
 * this node's hive (not removed) and signed it; the highest `seq` wins.
 *
 * Why "signed by a member" rather than "sent by a member": kad-dht (16.x) gives a validator the
 * key and the value only, never the peer that sent PUT_VALUE, and libp2p's stream middleware
 * (`libp2p.use`), which could refuse the DHT protocol to strangers, piles one handler per inbound
 * stream onto the protocol in libp2p 3.3 (js-libp2p PR #3534, open). A record can only be signed
 * by the peer it names, so a stranger, or a member, can only place its own advert, and only a
 * member's is kept: a stranger's PUT_VALUE is refused whoever relays it.
 */
export const CAPS_DHT_NAMESPACE = 'edge-hive-caps'

export function capabilityKey (peerId: string): Uint8Array {
  return new TextEncoder().encode(`/${CAPS_DHT_NAMESPACE}/${peerId}`)
}

/** The peer id a capability key names, or undefined when the key is not `/edge-hive-caps/<peer id>`. */
export function peerOfCapabilityKey (key: Uint8Array): string | undefined {
  const parts = new TextDecoder().decode(key).split('/')
  if (parts.length !== 3 || parts[0] !== '' || parts[1] !== CAPS_DHT_NAMESPACE) return undefined
  try {
    return peerIdFromString(parts[2]!).toString() === parts[2] ? parts[2] : undefined
  } catch {
    return undefined
  }
}

/** kad-dht refuses a record by a validator throwing. */
export class RecordRefused extends Error {
  readonly code = 'ERR_RECORD_REFUSED'
}

/**
 * kad-dht validator for `/edge-hive-caps/`: throws unless the key names a proven member of this
 * node's hive (`isMember`, cheap, asked first) and the value is that member's own signed advert.
 */
export function capabilityValidator (isMember: (peerId: string) => boolean): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    const peer = peerOfCapabilityKey(key)
    if (peer === undefined) throw new RecordRefused('not a capability key')
    if (!isMember(peer)) throw new RecordRefused('not the advert of a member of this hive')
    await openCapabilities(Buffer.from(value).toString('base64url'), peer)
  }
}

/**
 * kad-dht validator for every namespace the hive does not use (kad-dht has `/pk/` built in):
 * outside the hive's key space nothing is stored, for anyone.
 */
export function refuseRecord (): void {
  throw new RecordRefused('this DHT keeps capability adverts only')
}

function seqOf (value: Uint8Array): number {
  try {
    const doc = JSON.parse(new TextDecoder().decode(RecordEnvelope.createFromProtobuf(value).payload)) as { seq?: unknown }
    return typeof doc.seq === 'number' ? doc.seq : -1
  } catch {
    return -1
  }
}

/** kad-dht selector: the index of the newest record. */
export function selectCapabilityRecord (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  for (let i = 1; i < records.length; i++) if (seqOf(records[i]!) > seqOf(records[best]!)) best = i
  return best
}
