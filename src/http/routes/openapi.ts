import type { FastifyInstance } from 'fastify'

/**
 * `GET /openapi.json`: the OpenAPI 3.1 document that @fastify/swagger builds from the routes'
 * own schemas, with this node's URL as the server. Public, like the info document.
 */
export function registerOpenApiRoute (app: FastifyInstance, opts: { publicUrl (): string }): void {
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    const doc = app.swagger() as unknown as Record<string, unknown>
    return await reply.header('cache-control', 'no-cache').send({ ...doc, servers: [{ url: opts.publicUrl() }] })
  })
}
