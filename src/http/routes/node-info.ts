import type { FastifyInstance } from 'fastify'
import type { NodeInfo } from '../../shared/node-info.ts'
import { HttpError } from '../errors.ts'
import { nodeIdParam, object, responses } from '../schemas.ts'
import { bearerIdentity, challenge, refuse, type BearerComponents, type BearerOptions } from '../bearer.ts'
import { answerFromMember, clientGone, hiveCaller, type Forwarder } from '../forwarder.ts'

const infoDoc = object('The node\'s info document (its capability advert): node_id, peer_id, name, version, platform, uptime, load, capabilities.mcp, capabilities.p2p, metadata, authentication.')

export interface NodeInfoComponents {
  nodeId: string
  nodeInfo (): NodeInfo
  /** Hands a request to another member of the hive; undefined when the node has no hive. */
  forward: Forwarder | undefined
  verify: BearerComponents['verify']
}

/**
 * `GET /mcp/node/info` and `GET /mcp/node/{node_id}/info`. This node's document is
 * public (it is what discovery shows); another member's needs a token.
 */
export function registerNodeInfoRoutes (app: FastifyInstance, components: NodeInfoComponents, opts: BearerOptions): void {
  app.get('/mcp/node/info', {
    config: { public: true },
    schema: { tags: ['node'], summary: 'This node\'s info document', response: responses(infoDoc) }
  }, async () => components.nodeInfo())
  app.get<{ Params: { node_id: string } }>('/mcp/node/:node_id/info', {
    config: { public: true },
    schema: {
      tags: ['node'],
      summary: 'A node\'s info document, by node id: this node\'s for anyone; another member\'s, fetched from it through the hive, with an access token',
      params: nodeIdParam,
      response: responses(infoDoc, 401, 404, 503)
    }
  }, async (req, reply) => {
    if (req.params.node_id === components.nodeId) return components.nodeInfo()
    // Another member's document comes from that member, and only to a caller with a token: who
    // is in a hive is not for anyone who asks.
    if (components.forward === undefined) throw new HttpError('unknown_node')
    const identity = await bearerIdentity(req, components.verify)
    if (identity === undefined) {
      return refuse(reply, 401, challenge(opts, { realm: 'edge-hive' }), 'unauthorized', 'Another member\'s info document needs an access token of this node: Authorization: Bearer <token>.')
    }
    const response = await components.forward(req.params.node_id, { target: 'info' }, hiveCaller(identity), clientGone(reply))
    const out = answerFromMember(reply, response, opts, identity)
    return out === response ? await reply.send(response) : out
  })
}
