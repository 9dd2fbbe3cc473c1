/**
 * Requests open at once, capped per caller and per member. The keys come from what the node
 * verified (a client id from a checked token, a peer id proven on its connection), never from
 * what a caller may pick freely.
 */
export class KeyedQuota {
  readonly #perClient: number
  readonly #perMember: number
  readonly #clients = new Map<string, number>()
  readonly #members = new Map<string, number>()

  constructor (perClient: number, perMember: number) {
    this.#perClient = perClient
    this.#perMember = perMember
  }

  acquire (client: string, member: string): { ok: true, release: () => void } | { ok: false, reason: 'client' | 'member' } {
    const c = this.#clients.get(client) ?? 0
    const m = this.#members.get(member) ?? 0
    if (c >= this.#perClient) return { ok: false, reason: 'client' }
    if (m >= this.#perMember) return { ok: false, reason: 'member' }
    this.#clients.set(client, c + 1)
    this.#members.set(member, m + 1)
    let released = false
    return {
      ok: true,
      release: () => {
        if (released) return
        released = true
        drop(this.#clients, client)
        drop(this.#members, member)
      }
    }
  }
}

function drop (counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 1) - 1
  if (n <= 0) counts.delete(key)
  else counts.set(key, n)
}
