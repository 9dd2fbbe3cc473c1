import type { FastifyInstance } from 'fastify'
import type { NodeInfo } from '../../shared/node-info.ts'
import { HttpError } from '../errors.ts'
import { nodeIdParam, object, responses } from '../schemas.ts'

const infoDoc = object('The node\'s info document (the seed\'s capability advert): node_id, peer_id, name, version, platform, uptime, load, capabilities.mcp, capabilities.p2p, metadata, authentication.')

export interface NodeInfoComponents {
  nodeId: string
  nodeInfo (): NodeInfo
}

/** `GET /mcp/node/info` and the seed's `GET /mcp/node/{node_id}/info`. Public: it is what discovery shows. */
export function registerNodeInfoRoutes (app: FastifyInstance, components: NodeInfoComponents): void {
  app.get('/mcp/node/info', {
    config: { public: true },
    schema: { tags: ['node'], summary: 'This node\'s info document', response: responses(infoDoc) }
  }, async () => components.nodeInfo())
  app.get<{ Params: { node_id: string } }>('/mcp/node/:node_id/info', {
    config: { public: true },
    schema: { tags: ['node'], summary: 'A node\'s info document, by node id (the seed\'s route)', params: nodeIdParam, response: responses(infoDoc, 404) }
  }, async (req) => {
    // Only this node for now; the hive will answer for its members.
    if (req.params.node_id !== components.nodeId) {
      throw new HttpError(404, 'unknown_node', 'No node with that id is known here.')
    }
    return components.nodeInfo()
  })
}
