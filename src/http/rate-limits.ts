import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import { HttpError } from './errors.ts'

/**
 * The key of a source address: an IPv4 address as it is, an IPv6 address by its /64 (one
 * host's or one customer's block, whose addresses the holder picks freely), an IPv4-mapped
 * IPv6 address as the IPv4 one. The socket's address: no X-Forwarded-For is read (no proxy
 * is trusted), since a client writes that header as it likes.
 */
export function addressKey (ip: string): string {
  return normalizeIP(ip, 64)
}

/** Answers that mean the server accepted the request. */
export const ACCEPTED = (status: number): boolean => status < 400

/** One counter of a limit: who is counted (`key`), how many per window. */
export interface LimitRule {
  /** Names the counter; rules with the same name share counts. */
  name: string
  max: number
  windowMs: number
  /** What the request is counted by; undefined: the rule does not apply to this request. */
  key (req: FastifyRequest): string | undefined
  /**
   * Absent: every request counts, before it is answered. Given: only answers whose status it
   * accepts count, once known (see `settle`), and the rule refuses once the count reached `max`.
   * For keys a client names itself (a client id), count what the server accepted: counting
   * refusals would let anyone use up another client's allowance by naming it. For failures
   * (401s), count those: a refused caller is then slowed down, a served one is not.
   */
  countIf?: (status: number) => boolean
}

export interface Limits {
  /** A preHandler: refuses with 429 `rate_limited` when any rule that applies is used up. */
  enforce (req: FastifyRequest, reply: FastifyReply): Promise<void>
  /** Counts the `countIf` rules once the answer's status is known. */
  settle (req: FastifyRequest, status: number): Promise<void>
}

type Check = ReturnType<FastifyInstance['createRateLimit']>

const CURRENT_KEY = Symbol('edge-hive.rate-limit.key')
type KeyedRequest = FastifyRequest & { [CURRENT_KEY]?: string }

/** Runs one counter for a key (one at a time per request: the rules are awaited in turn). */
async function count (check: Check, req: FastifyRequest, key: string, increment: boolean): ReturnType<Check> {
  (req as KeyedRequest)[CURRENT_KEY] = key
  try { return await check(req, { increment }) } finally { (req as KeyedRequest)[CURRENT_KEY] = undefined }
}

/** Each counter once per server, so that rules of one name share it wherever they are used. */
const counters = new WeakMap<FastifyInstance, Map<string, { check: Check, max: number, windowMs: number }>>()

function counterFor (app: FastifyInstance, rule: LimitRule): Check {
  let mine = counters.get(app)
  if (mine === undefined) counters.set(app, mine = new Map())
  const known = mine.get(rule.name)
  if (known !== undefined) {
    if (known.max !== rule.max || known.windowMs !== rule.windowMs) throw new Error(`the limit ${rule.name} is defined twice, differently`)
    return known.check
  }
  // The key is made by the rule that uses the counter (see `count`); the counter prefixes its name.
  const check = app.createRateLimit({ max: rule.max, timeWindow: rule.windowMs, keyGenerator: (req) => `${rule.name}:${(req as KeyedRequest)[CURRENT_KEY] ?? ''}` })
  mine.set(rule.name, { check, max: rule.max, windowMs: rule.windowMs })
  return check
}

/**
 * Several limits on one route, each with its own key, all enforced. `@fastify/rate-limit`
 * runs at most one of its own hooks per request (the first sets a per-request flag that makes
 * the others return at once), so two keys cannot be two of its route hooks; its supported way
 * for more is `createRateLimit`, one checker per rule, used here. The rules run in order and
 * stop at the first one used up, so a request refused by the address limit does not also
 * count against a client.
 */
export function createLimits (app: FastifyInstance, rules: LimitRule[]): Limits {
  const checks = rules.map((rule) => ({ rule, check: counterFor(app, rule) }))
  return {
    async enforce (req, reply) {
      let shown: { max: number, remaining: number, reset: number } | undefined
      for (const { rule, check } of checks) {
        const key = rule.key(req)
        if (key === undefined) continue
        const afterwards = rule.countIf !== undefined
        const r = await count(check, req, key, !afterwards)
        if (r.isAllowed) continue
        const over = afterwards ? r.remaining <= 0 : r.isExceeded
        // A peek of an unused key reports no window yet: a new one starts with this request.
        const reset = r.ttlInSeconds > 0 ? r.ttlInSeconds : Math.ceil(rule.windowMs / 1000)
        if (over) {
          void reply.header('ratelimit-limit', r.max).header('ratelimit-remaining', 0).header('ratelimit-reset', reset).header('retry-after', reset)
          throw new HttpError('rate_limited', `Too many requests; try again in ${reset} s.`)
        }
        // The headers tell what each request uses up; rules counting some answers only show when they refuse.
        if (!afterwards && (shown === undefined || r.remaining < shown.remaining)) shown = { max: r.max, remaining: r.remaining, reset }
      }
      if (shown !== undefined) void reply.header('ratelimit-limit', shown.max).header('ratelimit-remaining', shown.remaining).header('ratelimit-reset', shown.reset)
    },
    async settle (req, status) {
      for (const { rule, check } of checks) {
        const key = rule.key(req)
        if (key !== undefined && rule.countIf?.(status) === true) await count(check, req, key, true)
      }
    }
  }
}
