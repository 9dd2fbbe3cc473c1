import type { PrivateKey } from '@libp2p/interface'
import { sealRecord, openRecord, toText, fromText } from '../signed-record.ts'
import { JsonFrames, ProtocolViolation } from './framing.ts'

/**
 * `/edge-hive/caps/1.0.0`: a member pushes its capability record, `{ record }`, where record is a
 * libp2p signed envelope (domain `edge-hive-capabilities`) around the seed's advert document plus
 * `seq`. Sent after auth, on change and every refresh interval; only members' records are read.
 */
export const CAPS_PROTOCOL = '/edge-hive/caps/1.0.0'

/** The advert: the seed's document, with `seq` growing on every new version. */
export type CapabilityDoc = Record<string, unknown> & { peer_id: string, node_id: string, seq: number }

export async function sealCapabilities (key: PrivateKey, doc: CapabilityDoc): Promise<string> {
  return toText(await sealRecord('capabilities', doc, key))
}

/**
 * Opens a capability record from `from`. Throws ProtocolViolation when it is not signed by that
 * peer or does not name it (a forged record), or is malformed.
 */
export async function openCapabilities (record: unknown, from: string): Promise<CapabilityDoc> {
  if (typeof record !== 'string') throw new ProtocolViolation('a capability message without a record')
  let opened
  try {
    opened = await openRecord('capabilities', fromText(record))
  } catch {
    throw new ProtocolViolation('a capability record that does not verify')
  }
  const d = opened.doc
  if (opened.signer !== from || d.peer_id !== from) throw new ProtocolViolation('a capability record not signed by the peer it names')
  if (typeof d.node_id !== 'string' || typeof d.seq !== 'number' || !Number.isSafeInteger(d.seq) || d.seq < 0) throw new ProtocolViolation('a malformed capability record')
  return d as CapabilityDoc
}

export async function pushCapabilities (f: JsonFrames, record: string): Promise<void> {
  await f.write({ record })
  await f.close()
}
