import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { quic } from '@chainsafe/libp2p-quic'
import { CAPS_DHT_NAMESPACE, validateCapabilityRecord, selectCapabilityRecord } from './dht-records.ts'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'

/** The hive's own Kademlia protocol id, so Edge Hive DHTs do not mix with the public IPFS one. */
export const KAD_PROTOCOL = '/edge-hive/kad/1.0.0'
/** The mDNS service libp2p peers of a hive announce (not libp2p's default, so only Edge Hive nodes answer). */
export const MDNS_SERVICE_TAG = '_edge-hive-p2p._udp.local'
const BOOTSTRAP_RETRY_MS = 10_000
/**
 * mDNS queries go out at start and then this often. Every node on the segment answers every query,
 * so a short interval costs a big hive dearly (measured: 30 nodes on 2 cores spent most of their
 * idle CPU on mDNS at 5 s); members also learn each other's addresses from each other.
 */
const MDNS_QUERY_INTERVAL_MS = 10_000
const DIAL_TIMEOUT_MS = 10_000

export interface P2PHostComponents {
  /** The node's identity key: the libp2p peer id is the node's. */
  privateKey: PrivateKey
  logger: Logger
}

export interface P2PHostOptions {
  listen: string[]
  bootstrap: string[]
  maxConnections: number
  /** mDNS peer discovery on the LAN; the only thing that makes the host send multicast. */
  discovery: boolean
}

/** No address of the peer is known, or none answered. */
export class PeerNotFound extends Error {
  readonly code = 'ERR_PEER_NOT_FOUND'
}

/**
 * QUIC comes from a native module (@chainsafe/libp2p-quic); where it does not load (another
 * platform or libc), the host runs on TCP alone and says so, rather than failing to start.
 */
async function loadQuic (log: Logger): Promise<ReturnType<typeof quic> | undefined> {
  try {
    const { quic } = await import('@chainsafe/libp2p-quic')
    return quic()
  } catch (err) {
    log.warn({ err: messageOf(err) }, 'QUIC is not available on this platform; listening on TCP only')
    return undefined
  }
}

/**
 * The node's libp2p host: TCP and QUIC, Noise, Yamux, identify, ping and a Kademlia DHT that keeps LAN
 * and loopback addresses (the default mapper drops them, which would leave a LAN hive empty).
 * It listens and dials, and sends multicast only for mDNS discovery (`discovery`, from
 * `--discovery`). Bootstrap peers are dialled at start and again while they are not connected.
 */
export class P2PHost {
  readonly #c: P2PHostComponents
  readonly #options: P2PHostOptions
  #node?: Libp2p
  #bootstrapTimer?: NodeJS.Timeout

  constructor (components: P2PHostComponents, options: P2PHostOptions) {
    this.#c = components
    this.#options = options
  }

  /**
   * Starts listening and dialling. `beforeStart` runs once the node exists but before it listens
   * or dials, so protocol handlers are in place before any peer can reach the node.
   */
  async start (hooks: { beforeStart?: () => Promise<void> } = {}): Promise<void> {
    const log = this.#c.logger
    const quicTransport = await loadQuic(log)
    const listen = quicTransport === undefined ? this.#options.listen.filter((a) => !a.includes('/quic-v1')) : this.#options.listen
    this.#node = await createLibp2p({
      start: false,
      privateKey: this.#c.privateKey,
      addresses: { listen },
      transports: quicTransport === undefined ? [tcp()] : [tcp(), quicTransport],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { maxConnections: this.#options.maxConnections },
      peerDiscovery: this.#options.discovery ? [mdns({ serviceTag: MDNS_SERVICE_TAG, interval: MDNS_QUERY_INTERVAL_MS })] : [],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({
          protocol: KAD_PROTOCOL,
          clientMode: false,
          peerInfoMapper: passthroughMapper,
          validators: { [CAPS_DHT_NAMESPACE]: validateCapabilityRecord },
          selectors: { [CAPS_DHT_NAMESPACE]: selectCapabilityRecord }
        })
      }
    })
    await hooks.beforeStart?.()
    await this.#node.start()
    this.#node.addEventListener('peer:connect', (evt) => log.debug({ peer_id: evt.detail.toString() }, 'peer connected'))
    // mDNS only reports peers; dialling them is ours to do.
    this.#node.addEventListener('peer:discovery', (evt) => {
      const node = this.#node
      if (node === undefined || node.getConnections(evt.detail.id).length > 0) return
      log.debug({ peer_id: evt.detail.id.toString() }, 'peer discovered')
      node.dial(evt.detail.id, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch((err: unknown) => log.debug({ err: messageOf(err) }, 'discovered peer not reachable'))
    })
    this.#node.addEventListener('peer:disconnect', (evt) => log.debug({ peer_id: evt.detail.toString() }, 'peer disconnected'))
    if (this.#options.bootstrap.length > 0) {
      void this.#dialBootstrap()
      this.#bootstrapTimer = setInterval(() => { void this.#dialBootstrap() }, BOOTSTRAP_RETRY_MS).unref()
    }
  }

  async #dialBootstrap (): Promise<void> {
    const node = this.#node
    if (node === undefined) return
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
      throw new PeerNotFound(`could not reach ${peerId}: ${messageOf(err)}`)
    }
    return node.getConnections(id).map((c) => c.remoteAddr.toString())
  }

  /** The running libp2p node, for the hive's own protocols; undefined before start and after stop. */
  get libp2p (): Libp2p | undefined {
    return this.#node
  }

  #addrs?: { at: number, value: string[] }

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
    await this.#node?.stop()
  }
}
