import type { ClientRecord, ClientRepository } from './types.ts'

/** Client ids remembered at most, known or not: the registry holds at most 10,000 clients. */
const MAX_CACHED = 10_000

/**
 * The operator's clients, read through a cache: one token costs three lookups of its client
 * (the library's own, the scopes it may be granted, the claims it gets), each a store query
 * otherwise. Every change goes through this repository (the node holds its store alone), so
 * the cache is updated with it and a revocation is seen at once. Ids that name no client are
 * remembered too (apps that registered themselves live elsewhere), in the same bound, the
 * least recently used forgotten first, so unknown ids from callers cannot grow it.
 * Records are frozen: callers share them.
 */
export class CachedClientRepository implements ClientRepository {
  readonly #inner: ClientRepository
  readonly #byId = new Map<string, Readonly<ClientRecord> | null>()
  /** Counts changes: a read that a change overlapped is not cached (it may be from before it). */
  #changes = 0

  constructor (inner: ClientRepository) {
    this.#inner = inner
  }

  async create (client: ClientRecord): Promise<void> {
    this.#changed(client.clientId)
    try {
      await this.#inner.create(client)
    } finally {
      this.#changed(client.clientId)
    }
  }

  async get (clientId: string): Promise<ClientRecord | undefined> {
    const cached = this.#byId.get(clientId)
    if (cached !== undefined) {
      this.#remember(clientId, cached)
      return cached ?? undefined
    }
    const before = this.#changes
    const read = await this.#inner.get(clientId)
    if (this.#changes === before) this.#remember(clientId, read === undefined ? null : freeze(read))
    return read
  }

  async list (limit: number): Promise<ClientRecord[]> {
    return await this.#inner.list(limit)
  }

  async count (): Promise<number> {
    return await this.#inner.count()
  }

  async update (clientId: string, patch: Partial<Pick<ClientRecord, 'secretHash' | 'revokedAt' | 'secretRotatedAt'>>): Promise<ClientRecord | undefined> {
    this.#changed(clientId)
    try {
      return await this.#inner.update(clientId, patch)
    } finally {
      this.#changed(clientId)
    }
  }

  #changed (clientId: string): void {
    this.#changes++
    this.#byId.delete(clientId)
  }

  #remember (clientId: string, record: Readonly<ClientRecord> | null): void {
    this.#byId.delete(clientId)
    this.#byId.set(clientId, record)
    if (this.#byId.size > MAX_CACHED) this.#byId.delete(this.#byId.keys().next().value!)
  }
}

function freeze (c: ClientRecord): Readonly<ClientRecord> {
  Object.freeze(c.scopes)
  return Object.freeze(c)
}
