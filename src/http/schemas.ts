/**
 * Pieces of route schemas shared by the routes, for validation and for the OpenAPI document.
 * Response schemas document; they do not shape what is sent (the server serialises with
 * JSON.stringify), so a field missing here is never dropped from an answer.
 */

export const errorBody = {
  type: 'object',
  description: 'Every error: a stable code for programs and a sentence for people.',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } }
} as const

const ERRORS: Record<number, string> = {
  400: 'Malformed request or invalid arguments.',
  401: 'No token, or the token is not valid (WWW-Authenticate tells why and where to get one).',
  403: 'The token lacks the scope this needs (insufficient_scope).',
  404: 'No such thing here.',
  409: 'Not possible in the node\'s present state.',
  429: 'Rate limited; see Retry-After.',
  502: 'A peer this needed did not answer as it should.',
  503: 'The node is starting, stopping or at a limit.'
}

/** A response map: the success body and the error statuses a route can answer with. */
export function responses (ok: Record<string, unknown>, ...errors: number[]): Record<number, unknown> {
  const status = typeof ok.status === 'number' ? ok.status : 200
  const map: Record<number, unknown> = { [status]: { description: 'Success.', ...stripStatus(ok) } }
  for (const code of errors) map[code] = { ...errorBody, description: ERRORS[code] ?? 'Error.' }
  return map
}

function stripStatus (o: Record<string, unknown>): Record<string, unknown> {
  const { status: _s, ...rest } = o
  return rest
}

/** Any JSON object, described in words. */
export function object (description: string, properties: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', description, properties, additionalProperties: true }
}

export const nodeIdParam = {
  type: 'object',
  required: ['node_id'],
  properties: { node_id: { type: 'string', maxLength: 64, description: 'This node\'s id (as in its info document).' } }
} as const
