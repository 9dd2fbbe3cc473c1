import type { FastifyInstance } from 'fastify'
import { HttpError } from '../errors.ts'
import { object, responses } from '../schemas.ts'
import { PEER_ID_PATTERN } from '../../shared/peer-id.ts'

/** How often a caller can make the node announce itself. */
const ANNOUNCE_EVERY_MS = 5000

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

/**
 * Membership as the `edge-hive hive` commands use it (all `mcp:admin` but the member list),
 * and `GET /discovery/announce`.
 */
export function registerHiveRoutes (app: FastifyInstance, c: HiveRouteComponents): void {
  const hive = (): NonNullable<ReturnType<HiveRouteComponents['hive']>> => {
    const h = c.hive()
    if (h === undefined) throw new HttpError('p2p_disabled')
    return h
  }

  app.get('/hive', {
    config: { scope: 'mcp:read' },
    schema: {
      tags: ['hive'],
      summary: 'This node\'s hive id (null when it belongs to none) and peer id',
      response: responses(object('`{ hive_id, peer_id }`'), 401, 403)
    }
  }, async () => ({ hive_id: c.hive()?.hiveId ?? null, peer_id: c.peerId }))
  app.post('/hive/init', {
    config: { scope: 'mcp:admin' },
    schema: {
      tags: ['hive'],
      summary: 'Found a new hive with this node as its first member',
      response: responses({ ...object('`{ hive_id }`'), status: 201 }, 401, 403, 409)
    }
  }, async (_req, reply) => {
    const r = await hive().init()
    return await reply.code(201).send(r)
  })
  app.post<{ Body: { ttl_seconds?: number, uses?: number } | undefined }>('/hive/invitations', {
    config: { scope: 'mcp:admin' },
    schema: {
      tags: ['hive'],
      summary: 'Make an invitation token for new nodes (a secret)',
      response: responses({ ...object('`{ token, expires_at, uses }`'), status: 201 }, 400, 401, 403, 409),
      body: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { ttl_seconds: { type: 'integer', minimum: 1, maximum: 2_592_000 }, uses: { type: 'integer', minimum: 1, maximum: 1000 } }
      }
    }
  }, async (req, reply) => {
    const r = await hive().invite({ ttlMs: (req.body?.ttl_seconds ?? 3600) * 1000, uses: req.body?.uses ?? 1 })
    // The token is a secret: do not let anything between keep it.
    return await reply.code(201).header('cache-control', 'no-store').send(r)
  })
  app.post<{ Body: { token: string } }>('/hive/join', {
    config: { scope: 'mcp:admin' },
    schema: {
      tags: ['hive'],
      summary: 'Join a hive with an invitation: asks the inviting member for a credential',
      body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 8192 } } },
      response: responses(object('`{ hive_id, inviter }`'), 400, 401, 403, 409, 502)
    }
  }, async (req) => await hive().join(req.body.token))
  app.get('/hive/members', {
    config: { scope: 'mcp:read' },
    schema: {
      tags: ['hive'],
      summary: 'This node and the members it knows, with status and trust; removed peers',
      response: responses(object('`{ hive_id, members: [{ peer_id, node_id, self, status, trust, last_seen }], removed: [peer_id] }`'), 401, 403, 409)
    }
  }, async () => hive().members())
  app.delete<{ Params: { peer_id: string } }>('/hive/members/:peer_id', {
    config: { scope: 'mcp:admin' },
    schema: {
      tags: ['hive'],
      summary: 'Remove a member; the removal spreads to the other members',
      params: { type: 'object', properties: { peer_id: { type: 'string', pattern: PEER_ID_PATTERN } }, required: ['peer_id'] },
      response: responses(object('`{ peer_id, removed }`: removed is false when it was removed already'), 400, 401, 403, 409)
    }
  }, async (req) => await hive().remove(req.params.peer_id))

  // Announcing sends to every member and the DHT, and a token with mcp:read alone may ask for
  // it: at most once per ANNOUNCE_EVERY_MS for the whole node, so no caller can make the node
  // flood its hive. A request in between gets the advert just sent.
  let last: { at: number, advert: unknown } | undefined
  app.get('/discovery/announce', {
    config: { scope: 'mcp:read' },
    schema: {
      tags: ['discovery'],
      summary: `Sign a fresh capability advert, send it to the members and the DHT, and return it (at most once every ${ANNOUNCE_EVERY_MS / 1000} s; in between, announced is false and the advert is the last one sent)`,
      response: responses(object('`{ announced, advert }`'), 401, 403, 409)
    }
  }, async () => {
    if (last !== undefined && Date.now() - last.at < ANNOUNCE_EVERY_MS) return { announced: false, advert: last.advert }
    const advert = await hive().announce()
    last = { at: Date.now(), advert }
    return { announced: true, advert }
  })
}
