/**
 * The base of every error Edge Hive raises on purpose.
 *
 * `code` is stable and machine-readable (tests assert it, clients may branch on it);
 * a retired code is never reused. `status` is the HTTP status when the error reaches
 * a client. `expose` says whether `message` may be shown to a remote client: errors
 * that are not exposed become a generic `server_error` at the HTTP edge and their
 * details stay in the log (as oidc-provider's `expose`).
 */
export class EdgeError extends Error {
  readonly code: string
  readonly status: number
  readonly expose: boolean

  constructor (code: string, message: string, options: { status?: number, expose?: boolean, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = options.status ?? 500
    this.expose = options.expose ?? this.status < 500
  }
}

/** An error in what the operator asked for (config, flags, data dir): the CLI exits 2. */
export class UsageError extends EdgeError {
  constructor (code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { status: 400, expose: false, ...options })
  }
}

/**
 * A listener could not bind: one line naming the setting to change (the CLI exits 2, as for a
 * wrong setting: a second node on one machine needs other ports). `address` is what was asked
 * for; `setting` the flag that sets it; `example` a value that would do.
 */
export function listenError (err: unknown, what: string, address: string, setting: string, example: string): EdgeError {
  const reason = messageOf(err)
  if (/EADDRINUSE/.test(reason)) {
    return new UsageError('ERR_ADDRESS_IN_USE', `${what} cannot listen on ${address}: another program (another node?) uses it. Stop it, or choose another with ${setting}, e.g. ${setting} ${example}`)
  }
  if (/EACCES/.test(reason)) {
    return new UsageError('ERR_LISTEN_DENIED', `${what} may not listen on ${address} (ports below 1024 need privileges): choose another with ${setting}, e.g. ${setting} ${example}`)
  }
  if (/EADDRNOTAVAIL/.test(reason)) {
    return new UsageError('ERR_ADDRESS_NOT_AVAILABLE', `${what} cannot listen on ${address}: this machine has no such address. Check ${setting}`)
  }
  return new StartupError('ERR_LISTEN', `${what} cannot listen on ${address}: ${reason.split('\n')[0]}`, { cause: err })
}

/** A condition the operator must fix in the environment (data dir locked, port in use): exit 1. */
export class StartupError extends EdgeError {
  constructor (code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { status: 500, expose: false, ...options })
  }
}

/** The message of any thrown value, for logs and one-line reports. */
export function messageOf (err: unknown): string {
  if (err instanceof Error) return err.message
  // Some libraries reject with DOM-style events (an aborted signal, a closed socket).
  if (typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string') return `${(err as { type: string }).type} event`
  return String(err)
}
