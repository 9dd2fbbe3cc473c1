import { EventEmitter } from 'node:events'
import type { AuditEntry, AuditLog, AuditQuery } from './types.ts'

/** The audit log, telling listeners of each entry once it is stored (`appended`). */
export class AuditFeed extends EventEmitter implements AuditLog {
  readonly #inner: AuditLog

  constructor (inner: AuditLog) {
    super()
    this.#inner = inner
    this.setMaxListeners(100)
  }

  async append (entry: Omit<AuditEntry, 'at'> & { at?: Date }): Promise<void> {
    const at = entry.at ?? new Date()
    await this.#inner.append({ ...entry, at })
    this.emit('appended', { ...entry, at })
  }

  async list (query: AuditQuery): Promise<AuditEntry[]> {
    return await this.#inner.list(query)
  }

  async purge (policy: { before: Date, keep: number }): Promise<void> {
    await this.#inner.purge(policy)
  }
}
