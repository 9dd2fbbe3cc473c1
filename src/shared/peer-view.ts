/** A peer as the MCP tools and the REST API show it (filled in by the hive). */
export interface PeerView {
  peer_id: string
  node_id?: string | undefined
  status: 'online' | 'offline' | 'untrusted'
  /** Proven a member of this node's hive (a removed member is not). */
  member: boolean
  trust: number
  addresses: string[]
  first_seen: string
  last_seen: string
  /** The peer's last signed capability advert, when it sent one. */
  capabilities?: Record<string, unknown> | undefined
}
