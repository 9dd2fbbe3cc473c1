import type { FastifyInstance } from 'fastify'
import type { PeerView } from '../../shared/peer-view.ts'
import { HttpError } from '../errors.ts'
import { object, responses } from '../schemas.ts'
import { PEER_ID_PATTERN } from '../../shared/peer-id.ts'

export interface DiscoveryComponents {
  /** The peers this node knows, as `list_peers` shows them. */
  peers (): PeerView[]
  /** Connects to a peer; throws an error with code ERR_PEER_NOT_FOUND when it cannot be reached. */
  connect (peerId: string, addrs: string[]): Promise<string[]>
  /** False with --no-p2p. */
  enabled (): boolean
}

/** The discovery routes: who this node knows (`mcp:read`), and connecting to a peer (`mcp:admin`). */
export function registerDiscoveryRoutes (app: FastifyInstance, c: DiscoveryComponents): void {
  app.get('/discovery/peers', {
    config: { scope: 'mcp:read' },
    schema: {
      tags: ['discovery'],
      summary: 'The peer table: peers found by mDNS, the DHT and bootstrap, with status, trust and adverts',
      response: responses(object('`{ peers: [{ peer_id, node_id, status, member, trust, addresses, first_seen, last_seen, capabilities }] }`'), 401, 403)
    }
  }, async () => ({ peers: c.peers() }))

  app.post<{ Params: { peer_id: string }, Body: { addrs?: string[] } | undefined }>('/discovery/connect/:peer_id', {
    config: { scope: 'mcp:admin' },
    schema: {
      tags: ['discovery'],
      summary: 'Connect to a peer: at the addresses given, the known ones, or through the DHT',
      response: responses(object('`{ peer_id, connected, addresses }`'), 400, 401, 403, 404, 409),
      params: { type: 'object', properties: { peer_id: { type: 'string', pattern: PEER_ID_PATTERN } }, required: ['peer_id'] },
      body: { type: ['object', 'null'], additionalProperties: false, properties: { addrs: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 512 } } } }
    }
  }, async (req) => {
    if (!c.enabled()) throw new HttpError('p2p_disabled')
    try {
      const addrs = await c.connect(req.params.peer_id, req.body?.addrs ?? [])
      return { peer_id: req.params.peer_id, connected: true, addresses: addrs }
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_PEER_NOT_FOUND') throw new HttpError('unknown_peer', (err as Error).message)
      throw err
    }
  })
}
