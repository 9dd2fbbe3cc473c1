import type { FastifyError } from 'fastify'
import { EdgeError, type ErrorCode } from '../shared/errors.ts'

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

// fastify's own client errors, by code, as our codes and sentences.
const FASTIFY_ERRORS: Record<string, { status: number, error: ErrorCode, message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'payload_too_large', message: 'The request body is larger than this node accepts.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported_media_type', message: 'This content type is not accepted here.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_request', message: 'The Content-Length header does not match the body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_request', message: 'The body is empty but the content type says JSON.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'malformed_json', message: 'The request body is not valid JSON.' },
  FST_ERR_BAD_URL: { status: 400, error: 'invalid_request', message: 'The request URL is malformed.' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, error: 'invalid_request', message: 'The request could not be routed.' }
}

/** Turns anything thrown while answering a request into the answer the client gets. */
export function toHttpAnswer (err: unknown): HttpAnswer {
  if (err instanceof EdgeError) {
    if (err.expose) return { status: err.status, body: { error: err.code, message: err.message }, internal: false }
    return { status: 500, body: { error: 'server_error', message: 'The node could not complete the request.' }, internal: true }
  }
  const fe = err as FastifyError & { validation?: unknown }
  const known = fe.code === undefined ? undefined : FASTIFY_ERRORS[fe.code]
  if (known !== undefined) return { status: known.status, body: { error: known.error, message: known.message ?? fe.message }, internal: false }
  if (fe instanceof SyntaxError && fe.statusCode === 400) {
    return { status: 400, body: { error: 'malformed_json', message: 'The request body is not valid JSON.' }, internal: false }
  }
  if (fe.validation !== undefined) {
    return { status: 400, body: { error: 'invalid_request', message: fe.message }, internal: false }
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500
  if (status === 429) return { status, body: { error: 'rate_limited', message: 'Too many requests; try again after the time in Retry-After.' }, internal: false }
  if (status >= 400 && status < 500) {
    return { status, body: { error: 'invalid_request', message: fe.message }, internal: false }
  }
  return { status: 500, body: { error: 'server_error', message: 'The node could not complete the request.' }, internal: true }
}
