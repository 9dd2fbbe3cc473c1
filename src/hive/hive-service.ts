import { serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import type { Connection, IdentifyResult, Libp2pEvents, PeerId, Startable, StreamHandler, StreamHandlerOptions, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { GossipSub } from '@libp2p/gossipsub'

/**
 * The parts of libp2p a hive service is given, and no more, as libp2p's own services declare
 * theirs (ping takes the registrar and the connection manager): it can serve its protocols, open
 * streams and connections, and hear of connections, not reach into the rest of the node.
 */
export interface HiveServiceComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
}

/** What the hive's code opens and closes connections and streams with: libp2p's connection manager, narrowed. */
export type HiveNet = Pick<ConnectionManager, 'getConnections' | 'openConnection' | 'openStream' | 'closeConnections'>

/** The priority of the hive's own dials in libp2p's dial queue: libp2p.dial's, above libp2p's own dials (the DHT's, ...). */
export const DIAL_PRIORITY = 75

/**
 * What the hive's service is given: besides the above, the libp2p services it builds on (ping,
 * the DHT, gossipsub), which libp2p hands to a service by name as it does to its own.
 */
export interface HiveLibp2p extends HiveServiceComponents {
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

/** One protocol a service serves, with its limits. */
export interface ServedProtocol {
  protocol: string
  handler: StreamHandler
  options?: StreamHandlerOptions
}

/** What a hive service does: the protocols it serves, and what it does when connections come and go. */
export interface HiveServiceInit {
  /** What it is called in libp2p's logs and errors, and the capability it gives (`@edge-hive/forward`). */
  name: string
  /** The capabilities of other services it uses (`@libp2p/ping`): libp2p refuses to start without them. */
  dependencies?: string[]
  protocols: readonly ServedProtocol[]
  /** A connection opened, either way. */
  opened? (conn: Connection): void
  /** The last open connection to a peer closed. */
  disconnected? (peer: PeerId): void
  /** identify told what a peer listens on and speaks. */
  identified? (result: IdentifyResult): void
  /** Runs after the handlers are removed (ends what the service still has open). */
  stopped? (): Promise<void> | void
}

/**
 * A libp2p service (see libp2p's ping or identify): made by libp2p from a factory, started with
 * the node, before it listens (so a peer's first stream finds the handlers in place), and
 * stopped with it. `start` installs the handlers and listeners, `stop` removes them.
 */
export class HiveService implements Startable {
  readonly #c: HiveServiceComponents
  readonly #init: HiveServiceInit
  #started = false

  constructor (components: HiveServiceComponents, init: HiveServiceInit) {
    this.#c = components
    this.#init = init
  }

  get [Symbol.toStringTag] (): string { return this.#init.name }
  get [serviceCapabilities] (): string[] { return [this.#init.name] }
  get [serviceDependencies] (): string[] { return this.#init.dependencies ?? [] }

  /** Connections and streams, for the code that runs the protocols. */
  get net (): HiveNet {
    return this.#c.connectionManager
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => { this.#init.opened?.(evt.detail) }
  readonly #onClose = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer
    if (this.#c.connectionManager.getConnections(peer).length === 0) this.#init.disconnected?.(peer)
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => { this.#init.identified?.(evt.detail) }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    for (const p of this.#init.protocols) await this.#c.registrar.handle(p.protocol, p.handler, p.options)
    this.#c.events.addEventListener('connection:open', this.#onOpen)
    this.#c.events.addEventListener('connection:close', this.#onClose)
    this.#c.events.addEventListener('peer:identify', this.#onIdentify)
  }

  /** Safe to call more than once: the node may stop a service itself before libp2p stops it too. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#c.events.removeEventListener('connection:open', this.#onOpen)
    this.#c.events.removeEventListener('connection:close', this.#onClose)
    this.#c.events.removeEventListener('peer:identify', this.#onIdentify)
    for (const p of this.#init.protocols) await this.#c.registrar.unhandle(p.protocol).catch(() => undefined)
    await this.#init.stopped?.()
  }
}
