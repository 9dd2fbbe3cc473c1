import { ERROR_CODES, type ErrorCode, type ErrorSpec } from './error-codes.ts'

export type { ErrorCode } from './error-codes.ts'

/**
 * The base of every error Edge Hive raises on purpose.
 *
 * `code` is one of the catalogue's (shared/error-codes.ts), which gives its HTTP `status` and
 * whether `message` may be shown to a remote client (`expose`): errors that are not exposed
 * become a generic `server_error` at the HTTP edge and their details stay in the log (as
 * oidc-provider's `expose`). The message defaults to the catalogue's, for codes that have one.
 * `status` may differ from the catalogue's where its meaning says so (`too_many_streams`), and
 * for the CLI's report of another node's answer (`node_refused`).
 */
export class EdgeError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly expose: boolean

  constructor (code: ErrorCode, message?: string, options: { status?: number, cause?: unknown } = {}) {
    const spec: ErrorSpec = ERROR_CODES[code]
    super(message ?? spec.message ?? spec.means, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = options.status ?? spec.status
    this.expose = spec.audience === 'client'
  }
}

/** An error in what the operator asked for (config, flags, data dir): the CLI exits 2. */
export class UsageError extends EdgeError {}

/**
 * A listener could not bind: one line naming the setting to change (the CLI exits 2, as for a
 * wrong setting: a second node on one machine needs other ports). `address` is what was asked
 * for; `setting` the flag that sets it; `example` a value that would do.
 */
export function listenError (err: unknown, what: string, address: string, setting: string, example: string): EdgeError {
  const reason = messageOf(err)
  if (/EADDRINUSE/.test(reason)) {
    return new UsageError('address_in_use', `${what} cannot listen on ${address}: another program (another node?) uses it. Stop it, or choose another with ${setting}, e.g. ${setting} ${example}`)
  }
  if (/EACCES/.test(reason)) {
    return new UsageError('listen_denied', `${what} may not listen on ${address} (ports below 1024 need privileges): choose another with ${setting}, e.g. ${setting} ${example}`)
  }
  if (/EADDRNOTAVAIL/.test(reason)) {
    return new UsageError('address_not_available', `${what} cannot listen on ${address}: this machine has no such address. Check ${setting}`)
  }
  return new StartupError('listen', `${what} cannot listen on ${address}: ${reason.split('\n')[0]}`, { cause: err })
}

/** A condition the operator must fix in the environment (data dir locked, port in use): exit 1. */
export class StartupError extends EdgeError {}

/** The message of any thrown value, for logs and one-line reports. */
export function messageOf (err: unknown): string {
  if (err instanceof Error) return err.message
  // Some libraries reject with DOM-style events (an aborted signal, a closed socket).
  if (typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string') return `${(err as { type: string }).type} event`
  return String(err)
}
