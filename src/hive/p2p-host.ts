import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { circuitRelayServer, circuitRelayTransport, RELAY_V2_HOP_CODEC, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { capabilityKey } from './dht-records.ts'
import { hiveKademlia, keepNoKademliaMarks } from './kademlia.ts'
import { BoundedDatastore } from './dht-store.ts'
import { addressKey } from './limits.ts'
import { LanDiscovery } from './lan-discovery.ts'
import { MAX_HOP_STREAMS, MAX_STOP_STREAMS, PROOF_WAIT_MS, RESERVATION_TTL_MS, RelayGate, isRelayed, memberRelayFilter } from './relay.ts'
import { gossipOptions } from './gossip/options.ts'
import { isQuicAddress, loadQuic, noQuic, type QuicState } from './quic.ts'
import type { HiveLibp2p, HiveService, HiveServiceComponents } from './hive-service.ts'
import type { HiveForwarding } from './forward/forwarding.ts'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import { PeerNotFound, p2pListenError } from './host-errors.ts'

export { KAD_PROTOCOL } from './kademlia.ts'
export { PeerNotFound } from './host-errors.ts'

/** The mDNS service libp2p peers of a hive announce (not libp2p's default, so only Edge Hive nodes answer). */
export const MDNS_SERVICE_TAG = '_edge-hive-p2p._udp.local'
const BOOTSTRAP_RETRY_MS = 10_000
/** While the node wants peers (fewer member connections than its degree), an mDNS query goes out this often; else none. */
const MDNS_QUERY_INTERVAL_MS = 10_000
const DIAL_TIMEOUT_MS = 10_000
const MAX_CHOSEN = 256

export interface P2PHostComponents {
  /** The node's identity key: the libp2p peer id is the node's. */
  privateKey: PrivateKey
  logger: Logger
  /** Whether a peer is a proven member of this node's hive: the DHT keeps only members' adverts. */
  isMember (peerId: string): boolean
  /** Whether a peer proved membership on its current connection: gossip goes to and comes from those only. */
  isTrusted (peerId: string): boolean
  /** Whether the node wants more peers now (LAN discovery asks, and dials what it finds, only then). */
  wantsPeers (): boolean
  /**
   * Whether the node needs its bootstrap peers now: it is not a member yet (it joins or finds the
   * hive through them), or it has fewer member connections than it wants. Once it has its
   * degree, a bootstrap peer is a member like any other, which its degree keeping may close.
   */
  wantsBootstrap (): boolean
  /** A refusal worth the (aggregated) audit log: relay requests of peers that are not members. */
  refused? (action: string, peer: string, address: string, reason: string): void
}

/** The libp2p services the hive uses by name (the relay server only where it runs). */
interface HostServices extends Record<string, unknown> {
  pubsub: GossipSub
  identify: Identify
  ping: Ping
  dht: KadDHT
  relay?: CircuitRelayService
  hive: HiveService
  forward: HiveForwarding
}

/** The hive's own protocols, as libp2p services made by libp2p beside its own (see hive-service.ts). */
export interface HiveServiceFactories {
  hive: (components: HiveLibp2p) => HiveService
  forward: (components: HiveServiceComponents) => HiveForwarding
}

/** Whether other members can dial this node: `private` (behind NAT) reserves a slot on a member relay. */
export type Reachability = 'public' | 'private'

export interface P2PHostOptions {
  listen: string[]
  bootstrap: string[]
  maxConnections: number
  /** Open connections from one remote address (IPv4 address or IPv6 /64) at most; more are refused. */
  maxConnectionsPerAddress: number
  /** mDNS peer discovery on the LAN; the only thing that makes the host send multicast. */
  discovery: boolean
  /** Relay connections to members behind NAT, for members only (`p2pRelay`); reservations held at once. */
  relay: { serve: boolean, maxReservations: number }
  /** `private`: this node has no inbound route; it reserves a slot on a member relay and advertises the relayed address. */
  reachability: Reachability
}

/**
 * The node's libp2p host: TCP and QUIC, Noise, Yamux, identify, ping and a Kademlia DHT that keeps LAN
 * and loopback addresses (the default mapper drops them, which would leave a LAN hive empty) and
 * stores only members' adverts (dht-records.ts) in a datastore with ceilings (dht-store.ts).
 * Inbound connections are capped per remote address as well as in all.
 * It listens and dials, and sends multicast only for mDNS discovery (`discovery`, from
 * `--discovery`). Bootstrap peers are dialled at start, and again while the node needs them.
 */
export class P2PHost {
  readonly #c: P2PHostComponents
  readonly #options: P2PHostOptions
  #node?: Libp2p<HostServices>
  #lan?: LanDiscovery
  readonly #lanQueue = new Map<string, Multiaddr[]>()
  #lanDialing = false
  #bootstrapTimer?: NodeJS.Timeout
  readonly #datastore = new BoundedDatastore()
  /** Peers the operator named: bootstrap peers, and `peers connect` targets (the last MAX_CHOSEN). */
  readonly #bootstrapPeers = new Set<string>()
  readonly #chosen = new Set<string>()
  #quic: QuicState = 'off'
  readonly #relayGate: RelayGate

  constructor (components: P2PHostComponents, options: P2PHostOptions) {
    this.#c = components
    this.#options = options
    for (const text of options.bootstrap) {
      const peer = multiaddr(text).getComponents().find((c) => c.name === 'p2p')?.value
      if (peer !== undefined) this.#bootstrapPeers.add(peer)
    }
    this.#relayGate = new RelayGate({
      logger: components.logger,
      isTrusted: (p) => components.isTrusted(p),
      isMember: (p) => components.isMember(p),
      connections: (p) => this.#node?.getConnections(p) ?? [],
      reservations: () => this.#relayServer()?.reservations ?? [],
      refused: (action, peer, address, reason) => { components.refused?.(action, peer, address, reason) }
    }, { maxReservations: options.relay.maxReservations })
  }

  #relayServer (): CircuitRelayService | undefined { return this.#node?.services.relay }

  /** Whether the operator named this peer (`--bootstrap`, `peers connect`): the hive may show it its credential first. */
  isChosen (peerId: string): boolean {
    return this.#bootstrapPeers.has(peerId) || this.#chosen.has(peerId)
  }

  /** Whether the operator named this peer with `peers connect` (not as a bootstrap peer): its connection is kept. */
  isPinned (peerId: string): boolean {
    return this.#chosen.has(peerId)
  }

  /**
   * Starts listening and dialling, with the hive's own protocols as libp2p services besides
   * libp2p's (`services`), which start before the node listens or dials. Returns forwarding,
   * which the node calls.
   */
  async start (services: HiveServiceFactories): Promise<HiveForwarding> {
    const log = this.#c.logger
    // QUIC is loaded only for a node that listens on it or bootstraps from a QUIC address (its
    // native module and runtime: 4-6 MiB); without it, peers are dialled over TCP.
    const wantsQuic = [...this.#options.listen, ...this.#options.bootstrap].some(isQuicAddress)
    const quicTransport = wantsQuic ? await loadQuic(log) : undefined
    this.#quic = quicTransport !== undefined ? 'loaded' : wantsQuic ? 'unavailable' : 'off'
    const direct = quicTransport === undefined ? this.#options.listen.filter((a) => !isQuicAddress(a)) : this.#options.listen
    // `/p2p-circuit` asks the relay transport for one reservation on a relay it finds among the
    // peers it is connected to (only proven members: see memberRelayFilter).
    const listen = this.#options.reachability === 'private' ? [...direct, '/p2p-circuit'] : direct
    const gate = this.#relayGate
    const node = await createLibp2p({
      start: false,
      privateKey: this.#c.privateKey,
      addresses: { listen },
      datastore: this.#datastore,
      transports: [
        tcp(),
        ...(quicTransport === undefined ? [] : [quicTransport]),
        // Every member can dial through a member relay; a member's proof may take a few seconds
        // after it connects, which the relay waits for (PROOF_WAIT_MS) before it answers.
        circuitRelayTransport({
          discoveryFilter: memberRelayFilter((p) => this.#c.isTrusted(p)),
          reservationCompletionTimeout: PROOF_WAIT_MS + DIAL_TIMEOUT_MS,
          maxInboundStopStreams: MAX_STOP_STREAMS
        })
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { maxConnections: this.#options.maxConnections },
      // Off. libp2p's connection monitor pings every connection (every 10 s by default, a new
      // stream each: a dozen frames), and in a hive that was most of the traffic at rest. Its
      // pings only measure round trips, which nothing uses; connections are kept alive by Yamux's
      // keep-alive (every 30 s) and QUIC's (every 5 s); members' connections are watched by the
      // hive (several pings in a row unanswered close one: DegreeKeeper.ping), and members are
      // judged by heartbeats. Its closing of connections whose ping failed made the hive suspect
      // live members on a busy machine (30 nodes: two of every five connections closed while forming).
      connectionMonitor: { enabled: false },
      // maxConnections is for everyone together: one address must not take every slot.
      // A relayed connection came through a member relay that checked its source (RelayGate): it is
      // not counted against the relay's own address.
      connectionGater: {
        denyInboundConnection: (maConn) => !isRelayed(maConn.remoteAddr) && this.#tooManyFrom(addressKey(maConn.remoteAddr)),
        denyDialMultiaddr: (ma) => gate.denyDialThrough(ma),
        denyInboundRelayReservation: async (source) => await gate.denyReservation(source),
        denyOutboundRelayedConnection: async (source, destination) => await gate.denyRelaying(source, destination),
        denyInboundRelayedConnection: (relay) => gate.denyRelayedFrom(relay)
      },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub(gossipOptions((p) => this.#c.isTrusted(p))),
        // DCUtR: a member reached through a relay dials the other side directly where it can (a
        // public address, or a hole punched through both NATs), and the relayed connection closes.
        dcutr: dcutr(),
        ...(this.#options.relay.serve
          ? {
              relay: circuitRelayServer({
                maxInboundHopStreams: MAX_HOP_STREAMS,
                maxOutboundStopStreams: MAX_STOP_STREAMS,
                // No data or time limit on a relayed connection (see docs/hive.md, "Members behind NAT"):
                // the relay serves proven members only, and a limited connection is one libp2p
                // dials around at every use (each a new relayed connection).
                reservations: { maxReservations: this.#options.relay.maxReservations, reservationTtl: RESERVATION_TTL_MS, applyDefaultLimit: false }
              })
            }
          : {}),
        dht: hiveKademlia((p) => this.#c.isMember(p)),
        ...services
      }
    })
    this.#node = node
    try {
      await node.start()
    } catch (err) {
      try { await node.stop() } catch { /* what started is stopped as far as it can be */ }
      this.#node = undefined
      throw p2pListenError(err)
    }
    keepNoKademliaMarks(node)
    node.addEventListener('peer:connect', (evt) => log.debug({ peer_id: evt.detail.toString() }, 'peer connected'))
    if (this.#options.discovery) {
      this.#lan = new LanDiscovery({
        peerId: node.peerId.toString(),
        logger: log,
        addresses: () => this.#node?.getMultiaddrs() ?? [],
        wanted: () => this.#c.wantsPeers(),
        found: (peer, addrs) => { this.#discovered(peer, addrs) }
      }, { serviceTag: MDNS_SERVICE_TAG, queryIntervalMs: MDNS_QUERY_INTERVAL_MS })
      this.#lan.start()
    }
    node.addEventListener('peer:disconnect', (evt) => log.debug({ peer_id: evt.detail.toString() }, 'peer disconnected'))
    if (this.#options.bootstrap.length > 0) {
      void this.#dialBootstrap()
      this.#bootstrapTimer = setInterval(() => { void this.#dialBootstrap() }, BOOTSTRAP_RETRY_MS).unref()
    }
    return node.services.forward
  }

  /**
   * A peer found on the LAN: queued, and dialled one at a time while the node wants peers (a
   * node's first query is answered by every node on the LAN at once; dialling all of them
   * before any connection is up would make a full mesh again).
   */
  #discovered (peer: string, addrs: Multiaddr[]): void {
    if (addrs.length === 0 || this.#lanQueue.size >= MAX_CHOSEN) return
    this.#lanQueue.set(peer, addrs)
    void this.#dialDiscovered()
  }

  async #dialDiscovered (): Promise<void> {
    if (this.#lanDialing) return
    this.#lanDialing = true
    try {
      for (const [peer, addrs] of this.#lanQueue) {
        this.#lanQueue.delete(peer)
        const node = this.#node
        if (node === undefined || !this.#c.wantsPeers()) break
        if (node.getConnections(peerIdFromString(peer)).length > 0) continue
        this.#c.logger.debug({ peer_id: peer }, 'peer discovered')
        await node.dial(addrs, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch((err: unknown) => this.#c.logger.debug({ err: messageOf(err) }, 'discovered peer not reachable'))
      }
    } finally {
      this.#lanQueue.clear()
      this.#lanDialing = false
    }
  }

  /** Whether this node holds a reservation on a relay now (its addresses include a relayed one). */
  relayed (): boolean {
    return this.#node?.getMultiaddrs().some(isRelayed) ?? false
  }

  /**
   * A peer just proved membership on `conn`. A node behind NAT without a reservation yet offers it
   * to the relay transport as a relay if it runs one: identify runs again on the connection, which
   * makes libp2p offer the peer to its relay discovery (the first offer, when the connection
   * opened, came before the proof and was passed over by memberRelayFilter).
   */
  memberProven (conn: Connection): void {
    const node = this.#node
    if (node === undefined || this.#options.reachability !== 'private' || this.relayed() || isRelayed(conn.remoteAddr) || conn.status !== 'open') return
    void node.peerStore.get(conn.remotePeer).then(async (peer) => {
      if (!peer.protocols.includes(RELAY_V2_HOP_CODEC)) return
      this.#c.logger.debug({ peer_id: conn.remotePeer.toString() }, 'asking a member relay for a reservation')
      await node.services.identify.identify(conn, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    }).catch((err: unknown) => this.#c.logger.debug({ err: messageOf(err) }, 'could not offer a member as a relay'))
  }

  /** Asks the LAN for peers now (the node just joined a hive), when LAN discovery is on. */
  lookAround (): void {
    this.#lan?.query()
  }

  #tooManyFrom (address: string): boolean {
    const open = this.#node?.getConnections().filter((c) => addressKey(c.remoteAddr) === address).length ?? 0
    if (open < this.#options.maxConnectionsPerAddress) return false
    this.#c.logger.debug({ address }, 'refused a connection: too many open from this address')
    return true
  }

  /** Drops a peer's advert from the DHT records this node keeps (it was removed from the hive, or this node left: `undefined`). */
  async forgetAdverts (peerId?: string): Promise<void> {
    const mine = peerId === undefined ? undefined : Buffer.from(capabilityKey(peerId))
    await this.#datastore.deleteRecords((key) => mine === undefined || mine.equals(key))
  }

  /**
   * Dials the bootstrap peers not connected, while the node needs them (wantsBootstrap). Not
   * always: every member of a hive started from one founder names it, and redialling it whenever
   * its degree keeping closed a connection made it a hub that every member kept reconnecting to
   * (measured, 30 nodes: the founder held 29-32 connections and was the busiest node at rest).
   */
  async #dialBootstrap (): Promise<void> {
    const node = this.#node
    if (node === undefined || !this.#c.wantsBootstrap()) return
    for (const text of this.#options.bootstrap) {
      const ma = multiaddr(text)
      const peer = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (peer !== undefined && node.getConnections().some((c) => c.remotePeer.toString() === peer)) continue
      try {
        await node.dial(ma, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      } catch (err) {
        this.#c.logger.debug({ address: text, err: messageOf(err) }, 'bootstrap peer not reachable yet')
      }
    }
  }

  /**
   * Connects to a peer: at the addresses given, else at those the peer store knows, else where the
   * DHT says it is. Resolves with the peer's addresses once connected; throws PeerNotFound when
   * no address is known or none answers in time.
   */
  async connect (peerId: string, addrs: string[] = []): Promise<string[]> {
    const node = this.#node
    if (node === undefined) throw new PeerNotFound('the libp2p host is not running')
    const id = peerIdFromString(peerId)
    const signal = AbortSignal.timeout(DIAL_TIMEOUT_MS)
    if (this.#chosen.size >= MAX_CHOSEN) this.#chosen.delete(this.#chosen.keys().next().value!)
    this.#chosen.add(peerId)
    try {
      if (addrs.length > 0) {
        await node.dial(addrs.map((a) => multiaddr(a)), { signal })
      } else if ((await node.peerStore.has(id)) && (await node.peerStore.get(id)).addresses.length > 0) {
        await node.dial(id, { signal })
      } else {
        const found = await node.peerRouting.findPeer(id, { signal })
        await node.dial(found.multiaddrs, { signal })
      }
    } catch (err) {
      const skipped = this.#quic !== 'loaded' && addrs.some(isQuicAddress)
      const why = skipped && addrs.every(isQuicAddress) ? noQuic(this.#quic) : `${messageOf(err)}${skipped ? ` (${noQuic(this.#quic)})` : ''}`
      throw new PeerNotFound(`could not reach ${peerId}: ${why}`)
    }
    return node.getConnections(id).map((c) => c.remoteAddr.toString())
  }

  #addrs?: { at: number, value: string[] }

  /** The peers this node holds a connection to now. */
  connectedPeers (): Set<string> {
    return new Set((this.#node?.getConnections() ?? []).map((c) => c.remotePeer.toString()))
  }

  /** Where other peers can dial this node, each ending in `/p2p/<peer id>` (read at most once a second: every get_status asks). */
  listenAddrs (): string[] {
    if (this.#node === undefined) return []
    const now = Date.now()
    if (this.#addrs === undefined || now - this.#addrs.at > 1000) this.#addrs = { at: now, value: this.#node.getMultiaddrs().map((m) => m.toString()) }
    return this.#addrs.value
  }

  protocols (): string[] {
    return this.#node?.getProtocols() ?? []
  }

  async stop (): Promise<void> {
    clearInterval(this.#bootstrapTimer)
    this.#lan?.stop()
    await this.#node?.stop()
  }
}
