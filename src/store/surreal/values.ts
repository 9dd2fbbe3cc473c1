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
