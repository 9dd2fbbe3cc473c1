import { RecordEnvelope } from '@libp2p/peer-record'
import { openCapabilities } from './protocols/caps.ts'

/**
 * Capability adverts in the Kademlia DHT, under `/edge-hive-caps/<peer id>`. The DHT keeps a
 * record only if it is signed by the peer its key names, and prefers the highest `seq`.
 */
export const CAPS_DHT_NAMESPACE = 'edge-hive-caps'

export function capabilityKey (peerId: string): Uint8Array {
  return new TextEncoder().encode(`/${CAPS_DHT_NAMESPACE}/${peerId}`)
}

/** kad-dht validator: throws for a record that is not the named peer's own signed advert. */
export async function validateCapabilityRecord (key: Uint8Array, value: Uint8Array): Promise<void> {
  const peer = new TextDecoder().decode(key).split('/')[2] ?? ''
  await openCapabilities(Buffer.from(value).toString('base64url'), peer)
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
