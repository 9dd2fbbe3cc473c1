import type { FastifyInstance } from 'fastify'

export interface HealthComponents {
  /** True when every part the node needs (store, listener) is up. */
  ready (): Promise<boolean>
}

/** `GET /healthz` (the process answers) and `GET /readyz` (the node can serve). Public. */
export function registerHealthRoutes (app: FastifyInstance, components: HealthComponents): void {
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }))
  app.get('/readyz', { config: { public: true } }, async (_req, reply) => {
    if (await components.ready()) return { status: 'ready' }
    return reply.code(503).send({ error: 'not_ready', message: 'The node is starting or stopping.' })
  })
}
