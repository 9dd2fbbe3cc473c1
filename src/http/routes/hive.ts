import type { FastifyInstance } from 'fastify'
import { EdgeError } from '../../shared/errors.ts'
import { HttpError } from '../errors.ts'

/** What the hive routes need of the node's hive; undefined with --no-p2p. */
export interface HiveRouteComponents {
  hive (): {
    hiveId: string | undefined
    init (): Promise<unknown>
    invite (o: { ttlMs: number, uses: number }): Promise<unknown>
    join (token: string): Promise<unknown>
    members (): unknown
    remove (peerId: string): Promise<unknown>
    announce (): Promise<unknown>
  } | undefined
  peerId: string
}

const PEER_ID = '^[1-9A-HJ-NP-Za-km-z]{46,60}$'

/** Hive errors carry `ERR_*` codes; HTTP answers use the API's snake_case codes. */
async function answer<T> (run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof EdgeError && err.expose && err.code.startsWith('ERR_')) throw new HttpError(err.status, err.code.slice(4).toLowerCase(), err.message)
    throw err
  }
}

/**
 * Membership as the `edge-hive hive` commands use it (all `mcp:admin` but the member list),
 * and the seed's `GET /discovery/announce`.
 */
export function registerHiveRoutes (app: FastifyInstance, c: HiveRouteComponents): void {
  const hive = (): NonNullable<ReturnType<HiveRouteComponents['hive']>> => {
    const h = c.hive()
    if (h === undefined) throw new HttpError(409, 'p2p_disabled', 'This node runs without its libp2p host (--no-p2p), so it has no hive.')
    return h
  }

  app.get('/hive', { config: { scope: 'mcp:read' } }, async () => ({ hive_id: c.hive()?.hiveId ?? null, peer_id: c.peerId }))
  app.post('/hive/init', { config: { scope: 'mcp:admin' } }, async (_req, reply) => {
    const r = await answer(async () => await hive().init())
    return await reply.code(201).send(r)
  })
  app.post<{ Body: { ttl_seconds?: number, uses?: number } | undefined }>('/hive/invitations', {
    config: { scope: 'mcp:admin' },
    schema: {
      body: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { ttl_seconds: { type: 'integer', minimum: 1, maximum: 2_592_000 }, uses: { type: 'integer', minimum: 1, maximum: 1000 } }
      }
    }
  }, async (req, reply) => {
    const r = await answer(async () => await hive().invite({ ttlMs: (req.body?.ttl_seconds ?? 3600) * 1000, uses: req.body?.uses ?? 1 }))
    // The token is a secret: do not let anything between keep it.
    return await reply.code(201).header('cache-control', 'no-store').send(r)
  })
  app.post<{ Body: { token: string } }>('/hive/join', {
    config: { scope: 'mcp:admin' },
    schema: { body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 8192 } } } }
  }, async (req) => await answer(async () => await hive().join(req.body.token)))
  app.get('/hive/members', { config: { scope: 'mcp:read' } }, async () => hive().members())
  app.delete<{ Params: { peer_id: string } }>('/hive/members/:peer_id', {
    config: { scope: 'mcp:admin' },
    schema: { params: { type: 'object', properties: { peer_id: { type: 'string', pattern: PEER_ID } }, required: ['peer_id'] } }
  }, async (req) => await answer(async () => await hive().remove(req.params.peer_id)))

  app.get('/discovery/announce', { config: { scope: 'mcp:read' } }, async () => ({ announced: true, advert: await answer(async () => await hive().announce()) }))
}
