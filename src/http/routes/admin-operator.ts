import type { FastifyInstance } from 'fastify'
import { HttpError } from '../errors.ts'
import { object, responses } from '../schemas.ts'

export interface AdminOperatorComponents {
  setPassword (password: string, actor: string): Promise<void>
  grants (): Promise<unknown[]>
  revokeGrant (grantId: string, actor: string): Promise<boolean>
}

/**
 * The operator account and the approvals it gave (`mcp:admin`): what `edge-hive operator
 * set-password` and `edge-hive grants` use while the node runs.
 */
export function registerAdminOperatorRoutes (app: FastifyInstance, c: AdminOperatorComponents): void {
  const admin = { scope: 'mcp:admin' as const }
  app.post<{ Body: { password: string } }>('/admin/operator/password', {
    config: admin,
    schema: {
      tags: ['admin'],
      summary: 'Set the operator password (the sign-in of the approval pages)',
      body: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: { type: 'string', minLength: 12, maxLength: 1024 } } },
      response: responses({ ...object('`{ updated: true }`'), status: 200 }, 400, 401, 403)
    }
  }, async (req) => {
    await c.setPassword(req.body.password, req.identity?.clientId ?? 'unknown')
    return { updated: true }
  })
  app.get('/admin/grants', {
    config: admin,
    schema: {
      tags: ['admin'],
      summary: 'The apps the operator approved, with their scopes',
      response: responses(object('`{ grants: [{ grant_id, client_id, client_name, scopes, created_at, expires_at }] }`'), 401, 403)
    }
  }, async () => ({ grants: await c.grants() }))
  app.delete<{ Params: { grant_id: string } }>('/admin/grants/:grant_id', {
    config: admin,
    schema: {
      tags: ['admin'],
      summary: 'Withdraw an approval: the app\'s refresh and access tokens stop working at once',
      params: { type: 'object', required: ['grant_id'], properties: { grant_id: { type: 'string', minLength: 1, maxLength: 128 } } },
      response: responses(object('`{ grant_id, revoked: true }`'), 401, 403, 404)
    }
  }, async (req) => {
    if (!await c.revokeGrant(req.params.grant_id, req.identity?.clientId ?? 'unknown')) throw new HttpError('unknown_grant', 'No approval with that id is known here.')
    return { grant_id: req.params.grant_id, revoked: true }
  })
}
