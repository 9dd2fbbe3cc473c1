import { MemoryDatastore } from 'datastore-core/memory'
import type { Key } from 'interface-datastore'
import { Record as DhtRecord } from '@libp2p/kad-dht'

/** A part of the key space with a ceiling: entries and bytes of values. */
export interface StoreLimit { prefix: string, maxEntries: number, maxBytes: number }

/**
 * kad-dht keeps what peers send under the `datastorePrefix` it is given (`/dht`): values of
 * PUT_VALUE under `/record`, ADD_PROVIDER entries under `/provider`. The hive stores one
 * capability advert per member (at most 32 KiB each) and uses no provider records, so:
 */
export const DHT_STORE_LIMITS: readonly StoreLimit[] = [
  { prefix: '/dht/record/', maxEntries: 1024, maxBytes: 16 * 1024 * 1024 },
  // Provider records are for content routing, which the hive does not do; anyone could add them.
  { prefix: '/dht/provider/', maxEntries: 0, maxBytes: 0 }
]

/** A write that would take a part of the store over its limit. kad-dht answers the peer with an error. */
export class StoreFull extends Error {
  readonly code = 'ERR_STORE_FULL'
}

/**
 * libp2p's datastore (it holds the peer store and the DHT's records), in memory as libp2p's
 * default is, with ceilings on the parts peers can fill: what kad-dht accepts from the network
 * goes through `put`, so a ceiling here holds whatever validators say. Other keys (the peer
 * store's) are not limited here.
 */
export class BoundedDatastore extends MemoryDatastore {
  readonly #limits: readonly StoreLimit[]
  readonly #usage = new Map<string, { entries: number, bytes: number }>()
  readonly #sizes = new Map<string, number>()

  constructor (limits: readonly StoreLimit[] = DHT_STORE_LIMITS) {
    super()
    this.#limits = limits
    for (const l of limits) this.#usage.set(l.prefix, { entries: 0, bytes: 0 })
  }

  #limitOf (key: string): StoreLimit | undefined {
    return this.#limits.find((l) => key.startsWith(l.prefix))
  }

  override put (key: Key, val: Uint8Array, options?: { signal?: AbortSignal }): Key | Promise<Key> {
    const k = key.toString()
    const limit = this.#limitOf(k)
    if (limit !== undefined) {
      const u = this.#usage.get(limit.prefix)!
      const old = this.#sizes.get(k)
      const entries = u.entries + (old === undefined ? 1 : 0)
      const bytes = u.bytes - (old ?? 0) + val.byteLength
      if (entries > limit.maxEntries || bytes > limit.maxBytes) throw new StoreFull(`the node keeps at most ${limit.maxEntries} entries and ${limit.maxBytes} bytes under ${limit.prefix}`)
      u.entries = entries
      u.bytes = bytes
      this.#sizes.set(k, val.byteLength)
    }
    return super.put(key, val, options)
  }

  override delete (key: Key, options?: { signal?: AbortSignal }): void | Promise<void> {
    const k = key.toString()
    const size = this.#sizes.get(k)
    const limit = this.#limitOf(k)
    if (size !== undefined && limit !== undefined) {
      const u = this.#usage.get(limit.prefix)!
      u.entries--
      u.bytes -= size
      this.#sizes.delete(k)
    }
    return super.delete(key, options)
  }

  /** What a limited part holds now (for tests and the docs' claims). */
  usage (prefix: string): { entries: number, bytes: number } | undefined {
    const u = this.#usage.get(prefix)
    return u === undefined ? undefined : { ...u }
  }

  /** Deletes the DHT records whose record key `drop` picks (a removed member's advert must not be served on). */
  async deleteRecords (drop: (recordKey: Uint8Array) => boolean): Promise<number> {
    let n = 0
    for await (const { key, value } of this.query({ prefix: '/dht/record/' })) {
      let recordKey: Uint8Array
      try {
        recordKey = DhtRecord.deserialize(value).key
      } catch {
        continue
      }
      if (drop(recordKey)) {
        await this.delete(key)
        n++
      }
    }
    return n
  }
}
