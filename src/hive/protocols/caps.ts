import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { nodeIdFromPublicKey } from '../../identity/index.ts'
import { sealRecord, openRecord, toText, fromText } from '../signed-record.ts'
import { MAX_CHAIN_LENGTH } from '../membership/credential.ts'
import { JsonFrames, ProtocolViolation } from './framing.ts'

/**
 * `/edge-hive/caps/2.0.0`: when two members have proven themselves to each other, each sends
 * the other every advert it holds, its own and other members', so a member that joins or comes
 * back knows the whole hive at once instead of waiting for each member's next heartbeat.
 *
 *   sender -> { adverts: [{ record, chain }, ...] }     as many frames as needed, each under 64 KiB
 *   sender -> { done: true }
 *
 * A member that hears a heartbeat from a member whose advert it does not hold asks the member
 * that relayed it (which checked that advert, or it would not have relayed the heartbeat):
 *
 *   asker  -> { want: [peer id, ...] }                  at most MAX_WANT
 *   answer <- { adverts: [...] } ... { done: true }     those it holds
 *
 * `record` is a libp2p signed envelope (domain `edge-hive-capabilities`) around the advert
 * document plus `seq`, signed by the member it describes; `chain` is that member's membership
 * chain, which proves it belongs to the hive. The same pair travels in gossip (protocols/gossip.ts).
 * Version 1.0.0 carried the sender's own record only and is not spoken any more.
 */
export const CAPS_PROTOCOL = '/edge-hive/caps/2.0.0'
/** Adverts sent in one exchange at most (the peer table's size). */
export const MAX_ADVERTS = 1000
/** Adverts asked for at once at most. */
export const MAX_WANT = 64
/** A frame is cut before this many bytes of records (the frame limit is 64 KiB). */
const FRAME_BUDGET = 48 * 1024

/** The advert: the info document, with `seq` growing on every new version (milliseconds since 1970, so also when it was made). */
export type CapabilityDoc = Record<string, unknown> & { peer_id: string, node_id: string, seq: number }

/** An advert as it travels: the signed record and the membership chain of the member it is about. */
export interface AdvertEntry { record: string, chain: string[] }

export async function sealCapabilities (key: PrivateKey, doc: CapabilityDoc): Promise<string> {
  return toText(await sealRecord('capabilities', doc, key))
}

/**
 * Opens a capability record. Throws ProtocolViolation when it does not verify, is malformed, or
 * is not signed by the peer it names (a forged record); `from`, when given, must be that peer.
 */
export async function openCapabilities (record: unknown, from?: string): Promise<CapabilityDoc> {
  if (typeof record !== 'string') throw new ProtocolViolation('a capability message without a record')
  let opened
  try {
    opened = await openRecord('capabilities', fromText(record))
  } catch {
    throw new ProtocolViolation('a capability record that does not verify')
  }
  const d = opened.doc
  if (opened.signer !== d.peer_id || (from !== undefined && opened.signer !== from)) throw new ProtocolViolation('a capability record not signed by the peer it names')
  if (typeof d.node_id !== 'string' || typeof d.seq !== 'number' || !Number.isSafeInteger(d.seq) || d.seq < 0) throw new ProtocolViolation('a malformed capability record')
  // The node id is derived from the member's key: an advert cannot claim another member's id
  // (requests for a member are routed by its node id).
  if (d.node_id !== nodeIdOf(opened.signer)) throw new ProtocolViolation('a capability record whose node id is not its signer\'s')
  return d as CapabilityDoc
}

/** Node ids already worked out, by peer id: every advert received is checked (a profile of a forming hive of 30 found this a tenth of advert checking). */
const nodeIds = new Map<string, string>()
const MAX_NODE_IDS = 4096

/** The node id of a peer, from the public key in its peer id. */
export function nodeIdOf (peerId: string): string {
  const known = nodeIds.get(peerId)
  if (known !== undefined) return known
  const key = peerIdFromString(peerId).publicKey
  const id = key === undefined ? '' : nodeIdFromPublicKey(key.raw)
  // Only signers of verified adverts and proven members come here; the bound is for a hive that met many over time.
  if (nodeIds.size >= MAX_NODE_IDS) nodeIds.clear()
  nodeIds.set(peerId, id)
  return id
}

/**
 * What an advert offers, as text: everything but what changes on every heartbeat (`seq`, uptime
 * and load, at the top and in `metadata`). Two adverts with the same offer differ only in
 * freshness: not worth a write to the store or a put to the DHT.
 */
export function offerOf (doc: Record<string, unknown>): string {
  const { seq: _s, uptime: _u, load: _l, metadata, ...rest } = doc
  const { uptime: _mu, load: _ml, ...meta } = (metadata ?? {}) as Record<string, unknown>
  return JSON.stringify([rest, meta])
}

/** Checks the shape of an advert entry from a peer (not its signatures: the caller does). */
export function advertEntry (e: unknown): AdvertEntry {
  const o = e as Partial<AdvertEntry> | null
  if (typeof o?.record !== 'string' || !Array.isArray(o.chain) || o.chain.length === 0 || o.chain.length > MAX_CHAIN_LENGTH || !o.chain.every((c) => typeof c === 'string')) {
    throw new ProtocolViolation('a malformed advert')
  }
  return { record: o.record, chain: o.chain }
}

export async function pushAdverts (f: JsonFrames, entries: AdvertEntry[]): Promise<void> {
  let batch: AdvertEntry[] = []
  let size = 0
  for (const e of entries.slice(0, MAX_ADVERTS)) {
    const n = e.record.length + e.chain.reduce((a, c) => a + c.length + 3, 0) + 32
    if (batch.length > 0 && size + n > FRAME_BUDGET) {
      await f.write({ adverts: batch })
      batch = []
      size = 0
    }
    batch.push(e)
    size += n
  }
  if (batch.length > 0) await f.write({ adverts: batch })
  await f.write({ done: true })
  await f.close()
}

/** Asks a member for the adverts of `want`; `each` gets each entry it sends. */
export async function requestAdverts (f: JsonFrames, want: string[], each: (e: AdvertEntry) => Promise<void>): Promise<void> {
  await f.write({ want: want.slice(0, MAX_WANT) })
  await readAdverts(f, each)
  await f.close()
}

/** Serves one caps stream: adverts pushed to this node (`each`), or a request for some (`wanted`). */
export async function serveAdverts (f: JsonFrames, each: (e: AdvertEntry) => Promise<void>, wanted: (ids: string[]) => Promise<AdvertEntry[]>): Promise<void> {
  const first = await f.read()
  if ('want' in first) {
    const ids = first.want
    if (!Array.isArray(ids) || ids.length > MAX_WANT || !ids.every((i) => typeof i === 'string' && i.length <= 128)) throw new ProtocolViolation('a malformed advert request')
    await pushAdverts(f, await wanted(ids as string[]))
    return
  }
  await readAdverts(f, each, first)
  await f.close()
}

/** Reads every advert frame up to `done` (starting with `first`, when already read); `each` gets each entry (checked for shape). */
export async function readAdverts (f: JsonFrames, each: (e: AdvertEntry) => Promise<void>, first?: Record<string, unknown>): Promise<void> {
  let count = 0
  let m: Record<string, unknown> | undefined = first
  for (;;) {
    m ??= await f.read()
    if (m.done === true) return
    if (!Array.isArray(m.adverts) || (count += m.adverts.length) > MAX_ADVERTS) throw new ProtocolViolation('a malformed adverts message')
    for (const e of m.adverts) await each(advertEntry(e))
    m = undefined
  }
}
