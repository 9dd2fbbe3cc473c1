import { EdgeError, StartupError, messageOf } from '../shared/errors.ts'
import type { LocalAdminAccess } from '../local-admin.ts'
import { pinnedRequest } from './pinned-request.ts'
import { cliName } from '../shared/cli-name.ts'

const TIMEOUT_MS = 15_000

/** An answer of the admin API that is not a success, as the error the CLI reports. */
export class AdminApiError extends EdgeError {
  /** The node's own code for it (its `error`). */
  readonly answered: string
  constructor (status: number, answered: string, message: string) {
    super('node_refused', message, { status })
    this.answered = answered
  }
}

/** Calls the running node's API as the local operator (pinned certificate, one-minute admin token). */
export async function callNode<T> (access: LocalAdminAccess, method: string, path: string, json?: unknown, timeoutMs = TIMEOUT_MS): Promise<T> {
  const res = await pinnedRequest(method, `${access.url}${path}`, {
    fingerprint: access.fingerprint, timeoutMs, json, headers: { authorization: `Bearer ${access.token}` }
  }).catch((err: unknown) => {
    // The lock file names a node that does not answer (it is stopping, starting, or hung):
    // an expected condition, said as `status` says it.
    throw new StartupError('node_unreachable', `the node at ${access.url} does not answer (${messageOf(err)}); \`${cliName()} status\` says how it is`)
  })
  let body: Record<string, unknown>
  try { body = JSON.parse(res.body) as Record<string, unknown> } catch { throw new AdminApiError(res.status, 'bad_answer', `the node answered ${res.status} with something that is not JSON`) }
  if (res.status >= 400) throw new AdminApiError(res.status, String(body.error ?? 'error'), String(body.message ?? `the node answered ${res.status}`))
  return body as T
}
