import type { FastifyInstance, FastifyReply } from 'fastify'
import { object, responses } from '../schemas.ts'

/** The Server Card media type of the experimental MCP server-card extension (SEP-2127). */
const SERVER_CARD_TYPE = 'application/mcp-server-card+json'
const SCHEMA = 'https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json'

/** One MCP endpoint of this node, as its card describes it. */
export interface CardedEndpoint {
  /** Its path on this node, e.g. `/mcp`; the card is served at `<path>/server-card`. */
  path: string
  /** The last part of the card's reverse-DNS name, e.g. the node id. */
  name: string
  /** At most 100 characters each (the card's schema). */
  title: string
  description: string
}

export interface ServerCardOptions {
  endpoints: CardedEndpoint[]
  /** The node's public base URL (the cards name absolute endpoint URLs). */
  publicUrl (): string
  version: string
  protocolVersions: readonly string[]
}

/**
 * MCP Server Cards and the MCP Catalog (the experimental server-card extension; its format may
 * still change): `GET <mcp-url>/server-card` per endpoint, and `GET /.well-known/mcp/catalog.json`
 * listing them. Public, as the extension asks: they say what the info document and the RFC 9728
 * metadata already say (name, version, where to connect), nothing about tools or members; they
 * are read-only, so any origin may read them (CORS `*`), and the API's per-address rate limit
 * applies as to every route.
 */
export function registerServerCardRoutes (app: FastifyInstance, o: ServerCardOptions): void {
  const discovery = (reply: FastifyReply, type: string): FastifyReply =>
    reply.type(type).header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=3600')
  const cardUrl = (e: CardedEndpoint): string => `${o.publicUrl()}${e.path}/server-card`
  /** A reverse-DNS namespace from the public URL's host name (`node.example.com` -> `com.example.node`), or `local.edge-hive` for an address. */
  const namespace = (): string => {
    const host = new URL(o.publicUrl()).hostname
    return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(host) && !/^[\d.]+$/.test(host) ? host.split('.').reverse().join('.') : 'local.edge-hive'
  }

  for (const e of o.endpoints) {
    app.get(`${e.path}/server-card`, {
      config: { public: true },
      schema: {
        tags: ['mcp'],
        summary: `The MCP Server Card of ${e.path} (experimental server-card extension)`,
        response: responses(object(`\`${SERVER_CARD_TYPE}\`: name, version, title, description, remotes`))
      }
    }, async (_req, reply) => discovery(reply, SERVER_CARD_TYPE).send({
      $schema: SCHEMA,
      name: `${namespace()}/${e.name}`,
      version: o.version,
      title: e.title.slice(0, 100),
      description: e.description.slice(0, 100),
      remotes: [{ type: 'streamable-http', url: `${o.publicUrl()}${e.path}`, supportedProtocolVersions: [...o.protocolVersions] }]
    }))
  }
  app.get('/.well-known/mcp/catalog.json', {
    config: { public: true },
    schema: {
      tags: ['mcp'],
      summary: 'The MCP Catalog of this node: its Server Cards (experimental)',
      response: responses(object('`{ specVersion, entries: [{ identifier, displayName, type, url }] }`'))
    }
  }, async (_req, reply) => discovery(reply, 'application/json; charset=utf-8').send({
    specVersion: 'draft',
    entries: o.endpoints.map((e) => ({
      identifier: `urn:air:${new URL(o.publicUrl()).hostname}:${e.name}`,
      displayName: e.title.slice(0, 100),
      type: SERVER_CARD_TYPE,
      url: cardUrl(e)
    }))
  }))
}
