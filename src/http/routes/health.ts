import type { FastifyInstance } from 'fastify'
import { object, responses } from '../schemas.ts'
import { errorBody } from '../../shared/error-codes.ts'

export interface HealthComponents {
  /** True when every part the node needs (store, listener) is up. */
  ready (): Promise<boolean>
}

/** `GET /healthz` (the process answers) and `GET /readyz` (the node can serve). Public. */
export function registerHealthRoutes (app: FastifyInstance, components: HealthComponents): void {
  app.get('/healthz', {
    config: { public: true },
    schema: { tags: ['health'], summary: 'Liveness: the process answers', response: responses(object('`{"status":"ok"}`')) }
  }, async () => ({ status: 'ok' }))
  app.get('/readyz', {
    config: { public: true },
    schema: { tags: ['health'], summary: 'Readiness: the store answers and the server listens', response: responses(object('`{"status":"ready"}`'), 503) }
  }, async (_req, reply) => {
    if (await components.ready()) return { status: 'ready' }
    return reply.code(503).send(errorBody('not_ready'))
  })
}
