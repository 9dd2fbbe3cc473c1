import { createHash } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { sealRecord, openRecord, toText, fromText } from '../signed-record.ts'
import { MAX_CLOCK_SKEW_MS } from './auth.ts'
import { advertEntry, type AdvertEntry } from './caps.ts'
import { ProtocolViolation } from './framing.ts'

/**
 * The hive's gossip (libp2p gossipsub, one topic per hive). Each message is one JSON object:
 *
 *   { "advert": { record, chain } }    a member's signed advert with its membership chain: when
 *                                      what it offers changes, when it joins the hive's mesh,
 *                                      and every 10 minutes as a repair (less often in a big hive)
 *   { "beat": record }                 the heartbeat, signed by the member: { hive, seq, advert,
 *                                      load, uptime } (`advert` is the seq of its current advert:
 *                                      a member holding an older one asks for it); a few hundred
 *                                      bytes instead of the advert's few KiB
 *   { "removal": record }              a signed removal (membership/removal.ts)
 *   { "suspect": record }              signed by a member that lost its connection to `peer`:
 *                                      { hive, peer, at }; the peer answers with a fresh advert
 *                                      at once if it is alive, otherwise members list it offline
 *
 * Every record is signed by the member it comes from; gossipsub's own signature is off (see
 * gossip/options.ts). The topic is `/edge-hive/hive/1/<SHA-256 of the hive id>`: a stranger
 * connected to a member sees the topic in gossipsub's subscription list, and learns from it
 * neither the hive id nor its founder.
 */
export function hiveTopic (hiveId: string): string {
  return `/edge-hive/hive/1/${createHash('sha256').update(hiveId).digest('hex').slice(0, 32)}`
}

export type GossipMessage = { advert: AdvertEntry } | { beat: string } | { removal: string } | { suspect: string }

export function encodeGossip (m: GossipMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m))
}

/** Parses a gossip message; ProtocolViolation for anything else. */
export function decodeGossip (data: Uint8Array): GossipMessage {
  let m: Record<string, unknown>
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as Record<string, unknown>
  } catch {
    throw new ProtocolViolation('a gossip message that is not JSON')
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m) || Object.keys(m).length !== 1) throw new ProtocolViolation('a malformed gossip message')
  if ('advert' in m) return { advert: advertEntry(m.advert) }
  if (typeof m.beat === 'string') return { beat: m.beat }
  if (typeof m.removal === 'string') return { removal: m.removal }
  if (typeof m.suspect === 'string') return { suspect: m.suspect }
  throw new ProtocolViolation('a gossip message of an unknown kind')
}

export interface Suspicion { by: string, peer: string, at: number }

export async function sealSuspicion (key: PrivateKey, hiveId: string, peer: string): Promise<string> {
  return toText(await sealRecord('suspect', { hive: hiveId, peer, at: Date.now() }, key))
}

/** Opens a suspicion; undefined when it is for another hive or stale; ProtocolViolation when it does not verify. */
export async function openSuspicion (record: string, hiveId: string, now = Date.now()): Promise<Suspicion | undefined> {
  let opened
  try {
    opened = await openRecord('suspect', fromText(record))
  } catch {
    throw new ProtocolViolation('a suspicion that does not verify')
  }
  const { hive, peer, at } = opened.doc
  if (typeof hive !== 'string' || typeof peer !== 'string' || typeof at !== 'number') throw new ProtocolViolation('a malformed suspicion')
  if (hive !== hiveId || Math.abs(now - at) > MAX_CLOCK_SKEW_MS) return undefined
  return { by: opened.signer, peer, at }
}

export interface Beat { by: string, seq: number, advert: number, load?: Record<string, number> | undefined, uptime?: number | undefined }

export async function sealBeat (key: PrivateKey, hiveId: string, b: Omit<Beat, 'by'>): Promise<string> {
  return toText(await sealRecord('beat', { hive: hiveId, ...b }, key))
}

/** Opens a heartbeat; undefined when it is for another hive; ProtocolViolation when it does not verify or is malformed. */
export async function openBeat (record: string, hiveId: string): Promise<Beat | undefined> {
  let opened
  try {
    opened = await openRecord('beat', fromText(record))
  } catch {
    throw new ProtocolViolation('a heartbeat that does not verify')
  }
  const { hive, seq, advert, load, uptime } = opened.doc
  if (typeof hive !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq) ||
    typeof advert !== 'number' || !Number.isSafeInteger(advert)) throw new ProtocolViolation('a malformed heartbeat')
  if (load !== undefined && (load === null || typeof load !== 'object' || Array.isArray(load) || Object.keys(load).length > 8 ||
    !Object.values(load).every((v) => typeof v === 'number'))) throw new ProtocolViolation('a malformed heartbeat')
  // A member of an earlier release sends none (and its whole advert every minute instead).
  if (uptime !== undefined && (typeof uptime !== 'number' || !Number.isSafeInteger(uptime) || uptime < 0)) throw new ProtocolViolation('a malformed heartbeat')
  if (hive !== hiveId) return undefined
  return { by: opened.signer, seq, advert, load: load as Record<string, number> | undefined, uptime }
}
