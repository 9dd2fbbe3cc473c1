/** SurrealDB datetimes come back as the SDK's DateTime; turn them into plain Dates. */
export function toDate (v: unknown): Date {
  if (v instanceof Date) return v
  const n = Number((v as { valueOf (): unknown }).valueOf())
  return Number.isFinite(n) ? new Date(n) : new Date(String(v))
}

export function toOptionalDate (v: unknown): Date | undefined {
  return v === undefined || v === null ? undefined : toDate(v)
}

/** Drops undefined fields: option<> fields in SCHEMAFULL tables must be absent, not null. */
export function defined<T extends Record<string, unknown>> (row: T): Partial<T> {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) as Partial<T>
}

const CONFLICT_ATTEMPTS = 8

/**
 * Runs a write again when SurrealDB refused it for a conflict with a concurrent transaction
 * ("Transaction conflict: … This transaction can be retried"). The embedded engine has
 * optimistic transactions: oidc-provider, for one, writes a grant's records in parallel (a
 * reused refresh token destroys it and deletes the grant's tokens of every model at once), and
 * without this one of those writes fails now and then and the client gets a 500.
 * Only for writes that are the same when run twice.
 */
export async function retryingConflicts<T> (write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write()
    } catch (err) {
      if (attempt >= CONFLICT_ATTEMPTS || !/can be retried/i.test(String((err as Error)?.message))) throw err
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt))
    }
  }
}
