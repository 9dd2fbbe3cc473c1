import { RecordEnvelope } from '@libp2p/peer-record'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PrivateKey, Record as Libp2pRecord } from '@libp2p/interface'
import { invalidRecord } from './errors.ts'

/** The largest signed record accepted from anyone (credentials, invitations, capability adverts). */
export const MAX_RECORD_BYTES = 32 * 1024

/** Kinds of signed record. Each has its own signature domain, so a signature made for one kind never verifies as another. */
export const RECORD_KINDS = {
  membership: 'edge-hive-membership',
  invitation: 'edge-hive-invitation',
  removal: 'edge-hive-removal',
  capabilities: 'edge-hive-capabilities',
  suspect: 'edge-hive-suspect',
  beat: 'edge-hive-beat'
} as const
export type RecordKind = keyof typeof RECORD_KINDS

/** A JSON document as a libp2p Record, sealed in a libp2p signed envelope (libp2p RFC 0002). */
class JsonRecord implements Libp2pRecord {
  readonly domain: string
  readonly codec: Uint8Array
  readonly #bytes: Uint8Array

  constructor (kind: RecordKind, doc: unknown) {
    this.domain = RECORD_KINDS[kind]
    this.codec = new TextEncoder().encode(`/${this.domain}/json`)
    this.#bytes = new TextEncoder().encode(JSON.stringify(doc))
  }

  marshal (): Uint8Array {
    return this.#bytes
  }

  equals (other: Libp2pRecord): boolean {
    return other instanceof JsonRecord && Buffer.from(other.marshal()).equals(Buffer.from(this.#bytes))
  }
}

/** A verified record: who signed it (their peer id) and what it says. */
export interface OpenedRecord {
  signer: string
  doc: Record<string, unknown>
}

/** Signs a JSON document with the node's key; returns the envelope's bytes. */
export async function sealRecord (kind: RecordKind, doc: unknown, key: PrivateKey): Promise<Uint8Array> {
  const envelope = await RecordEnvelope.seal(new JsonRecord(kind, doc), key)
  const bytes = envelope.marshal()
  if (bytes.length > MAX_RECORD_BYTES) throw invalidRecord(`A ${kind} record of ${bytes.length} bytes`)
  return bytes
}

/**
 * Checks an envelope's signature for the given kind and returns the signer and document.
 * Throws `invalid_record` for anything else: wrong kind, bad signature, not JSON, too big.
 */
export async function openRecord (kind: RecordKind, bytes: Uint8Array): Promise<OpenedRecord> {
  if (bytes.length > MAX_RECORD_BYTES) throw invalidRecord(`A ${kind} record`)
  let envelope: RecordEnvelope
  try {
    envelope = await RecordEnvelope.openAndCertify(bytes, RECORD_KINDS[kind])
  } catch {
    throw invalidRecord(`A ${kind} record`)
  }
  if (new TextDecoder().decode(envelope.payloadType) !== `/${RECORD_KINDS[kind]}/json`) throw invalidRecord(`A ${kind} record`)
  let doc: unknown
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(envelope.payload))
  } catch {
    throw invalidRecord(`A ${kind} record`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidRecord(`A ${kind} record`)
  return { signer: peerIdFromPublicKey(envelope.publicKey).toString(), doc: doc as Record<string, unknown> }
}

export function toText (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

export function fromText (text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw invalidRecord('A record')
  return new Uint8Array(Buffer.from(text, 'base64url'))
}
