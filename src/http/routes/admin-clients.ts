import type { FastifyInstance } from 'fastify'
import type { ClientRegistry, NewClient } from '../../auth/index.ts'
import { object, responses } from '../schemas.ts'

const clients = object('`{ clients: [client, ...] }`')
const withSecret = object('`{ client, client_secret }`: the secret appears in this answer only.')

export interface AdminClientComponents {
  registry: ClientRegistry
}

const clientIdParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const

const newClientBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'scopes'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    scopes: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 16 },
    agent_type: { type: 'string', maxLength: 64 },
    agent_version: { type: 'string', maxLength: 64 },
    jwks: { type: 'object' }
  }
} as const

/** Who did it, for the audit log: the token's client. */
const actorOf = (identity: { clientId: string } | undefined): string => identity?.clientId ?? 'unknown'

/**
 * The admin API for the client registry (`mcp:admin`): what `edge-hive clients ...` uses
 * while the node runs. Secrets appear in a response once, at creation or rotation.
 */
export function registerAdminClientRoutes (app: FastifyInstance, { registry }: AdminClientComponents): void {
  const admin = { config: { scope: 'mcp:admin' as const } }
  app.get('/admin/clients', { ...admin, schema: { tags: ['admin'], summary: 'List the OAuth clients', response: responses(clients, 401, 403) } }, async () => ({ clients: await registry.list() }))
  app.post<{ Body: { name: string, scopes: string[], agent_type?: string, agent_version?: string, jwks?: NewClient['jwks'] } }>(
    '/admin/clients', { ...admin, schema: { tags: ['admin'], summary: 'Register an OAuth client (an agent)', body: newClientBody, response: responses({ ...withSecret, status: 201 }, 400, 401, 403, 409) } }, async (req, reply) => {
      const b = req.body
      const { client, secret } = await registry.add({ name: b.name, scopes: b.scopes, agentType: b.agent_type, agentVersion: b.agent_version, jwks: b.jwks }, actorOf(req.identity))
      return reply.code(201).header('cache-control', 'no-store').send(secret === undefined ? { client } : { client, client_secret: secret })
    })
  app.get<{ Params: { id: string } }>('/admin/clients/:id', {
    ...admin,
    schema: { tags: ['admin'], summary: 'Show one client', params: clientIdParam, response: responses(object('`{ client }`'), 401, 403, 404) }
  }, async (req) => ({ client: await registry.get(req.params.id) }))
  app.post<{ Params: { id: string } }>('/admin/clients/:id/revoke', {
    ...admin,
    schema: {
      tags: ['admin'],
      summary: 'Revoke any client, also an app that registered itself: its grants end and its live tokens stop working at once',
      params: clientIdParam,
      response: responses(object('`{ client }`'), 401, 403, 404)
    }
  }, async (req) => ({ client: await registry.revoke(req.params.id, actorOf(req.identity)) }))
  app.post<{ Params: { id: string } }>('/admin/clients/:id/rotate-secret', {
    ...admin,
    schema: {
      tags: ['admin'],
      summary: 'Give a client a new secret; the old one stops working (not for an app that registered itself: 409)',
      params: clientIdParam,
      response: responses(withSecret, 401, 403, 404, 409)
    }
  }, async (req, reply) => {
    const { client, secret } = await registry.rotateSecret(req.params.id, actorOf(req.identity))
    return reply.header('cache-control', 'no-store').send({ client, client_secret: secret })
  })
}
