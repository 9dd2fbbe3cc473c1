import type { FastifyError } from 'fastify'
import { EdgeError, type ErrorCode } from '../shared/errors.ts'
import { ERROR_CODES, errorBody } from '../shared/error-codes.ts'

/** The JSON body of every error answer: a stable code for programs, a sentence for people. */
export interface ErrorBody {
  error: ErrorCode
  message: string
}

export interface HttpAnswer {
  status: number
  body: ErrorBody
  /** True when the cause is ours, not the client's: log it with its stack. */
  internal: boolean
}

/** An error of the HTTP layer itself (routing, limits, bodies), meant for the client. */
export class HttpError extends EdgeError {}

// fastify's own client errors, by code, as our codes (their status is the catalogue's) and
// sentences (the catalogue's where it has one).
const FASTIFY_ERRORS: Record<string, { error: ErrorCode, message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { error: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { error: 'unsupported_media_type', message: 'This content type is not accepted here.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { error: 'invalid_request', message: 'The Content-Length header does not match the body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { error: 'invalid_request', message: 'The body is empty but the content type says JSON.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { error: 'malformed_json' },
  FST_ERR_BAD_URL: { error: 'invalid_request', message: 'The request URL is malformed.' },
  FST_ERR_ASYNC_CONSTRAINT: { error: 'invalid_request', message: 'The request could not be routed.' }
}

const serverError = (): HttpAnswer => ({ status: 500, body: errorBody('server_error'), internal: true })

/** Turns anything thrown while answering a request into the answer the client gets. */
export function toHttpAnswer (err: unknown): HttpAnswer {
  if (err instanceof EdgeError) {
    if (err.expose) return { status: err.status, body: { error: err.code, message: err.message }, internal: false }
    return serverError()
  }
  const fe = err as FastifyError & { validation?: unknown }
  const known = fe.code === undefined ? undefined : FASTIFY_ERRORS[fe.code]
  if (known !== undefined) return { status: ERROR_CODES[known.error].status, body: errorBody(known.error, known.message), internal: false }
  if (fe instanceof SyntaxError && fe.statusCode === 400) {
    return { status: 400, body: errorBody('malformed_json'), internal: false }
  }
  if (fe.validation !== undefined) {
    return { status: 400, body: errorBody('invalid_request', fe.message), internal: false }
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500
  if (status === 429) return { status, body: errorBody('rate_limited', 'Too many requests; try again after the time in Retry-After.'), internal: false }
  if (status >= 400 && status < 500) {
    return { status, body: errorBody('invalid_request', fe.message), internal: false }
  }
  return serverError()
}
