import { EventEmitter } from 'node:events'
import type { Connection, StreamHandlerOptions } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { HiveComponents, HiveOptions } from './hive-components.ts'
export type { HiveComponents, HiveOptions } from './hive-components.ts'
import { PeerDirectory, type MemberView, type PeerEvent } from './peer-directory.ts'
export type { MemberView } from './peer-directory.ts'
import { Membership } from './membership/membership.ts'
import { Removals, type Applied } from './membership/removals.ts'
import { JsonFrames, sendFrames, serveFrames } from './protocols/framing.ts'
import { AUTH_PROTOCOL, LEGACY_AUTH_PROTOCOLS, MAX_CLOCK_SKEW_MS, UPGRADE_REFUSAL, refuseAuth } from './protocols/auth.ts'
import { CAPS_PROTOCOL, type CapabilityDoc } from './protocols/caps.ts'
import { MEMBERS_PROTOCOL, pushMembers, readMembers } from './protocols/members.ts'
import { JOIN_PROTOCOL } from './protocols/join.ts'
import { Adverts } from './adverts.ts'
import { HandshakeGuard } from './handshake-guard.ts'
import { HiveGossip } from './gossip/hive-gossip.ts'
import { DegreeKeeper } from './degree.ts'
import { Challenges } from './challenges.ts'
import { Goodbyes } from './goodbyes.ts'
import { connectionEvents } from './connection-events.ts'
import { HiveService, type HiveLibp2p, type ServedProtocol } from './hive-service.ts'
import { isRelayed } from './relay.ts'

/** Inbound streams per connection for each hive protocol: a peer cannot make the node juggle more. */
const MAX_INBOUND_STREAMS = 4
/** How often connections to members are topped up to the degree, or trimmed. */
const DEGREE_INTERVAL_MS = 10_000
/** The heartbeat slows as the hive grows, so the hive as a whole sends about 1 / this many ms adverts (10 a second). */
const HEARTBEAT_SPREAD_MS = 100
/** How often connected peers that have not proven membership are looked at for a new challenge (each backs off). */
const CHALLENGE_RETRY_MS = 5_000

/**
 * The hive: membership (found, invite, join, remove), the challenge-response on every
 * connection, capability adverts spread by gossip (each member's advert is its heartbeat),
 * removals, and the peer table with its health checks. Each member keeps connections to a few
 * members (DegreeKeeper), not all. Every hive protocol but auth and join refuses peers that have
 * not proven membership on their current connection; those two are rate limited per remote
 * address and peer id (HandshakeGuard).
 */
export class Hive extends EventEmitter<{ peer: [PeerEvent] }> {
  readonly #c: HiveComponents
  readonly #o: HiveOptions
  readonly #log: Logger
  readonly directory: PeerDirectory
  readonly #guard: HandshakeGuard
  readonly #removals: Removals
  readonly #adverts: Adverts
  readonly #membership: Membership
  readonly #gossip: HiveGossip
  readonly #degree: DegreeKeeper
  readonly #challenges: Challenges
  readonly #byes: Goodbyes
  readonly #timers: NodeJS.Timeout[] = []
  /** What libp2p gave the hive's service when it made it (see service()): connections, events, ping, the DHT, gossipsub. */
  #lib?: HiveLibp2p
  #stopped = false
  /** Joining with the start token (EDGE_HIVE_JOIN_TOKEN), not a member yet. */
  #joining = false

  constructor (c: HiveComponents, o: HiveOptions) {
    super()
    this.#c = c
    this.#o = o
    this.#log = c.logger
    this.directory = new PeerDirectory({ repo: c.peers, logger: c.logger }, { offlineAfterMs: o.offlineAfterMs })
    this.directory.on('peer', (e) => this.emit('peer', e))
    this.#byes = new Goodbyes({
      connected: (p) => this.#connections(p).length > 0,
      suspect: (p) => { void this.#gossip.suspect(p) },
      stopped: () => this.#stopped
    })
    this.#guard = new HandshakeGuard({ audit: c.audit, logger: c.logger }, o.limits)
    const misbehaved = (peer: string, why: string): void => { this.directory.misbehaved(peer, why) }
    this.#removals = new Removals({
      self: c.peerId,
      key: c.privateKey,
      repo: c.hive,
      logger: c.logger,
      audit: c.audit,
      membership: () => this.#membership.current,
      applied: async (r, record, from) => { await this.#removed(r, record, from) },
      misbehaved
    })
    this.#gossip = new HiveGossip({
      pubsub: () => this.#lib?.pubsub,
      peerId: c.peerId,
      privateKey: c.privateKey,
      logger: c.logger,
      isTrusted: (p) => this.directory.isTrusted(p),
      isMember: (p) => this.isMember(p),
      misbehaved,
      advert: async (e, from) => await this.#adverts.accept(e, from),
      beat: async (record, from) => await this.#adverts.acceptBeat(record, from),
      removal: async (record, from) => await this.#removals.receiveOne(record, from),
      suspected: (p) => { this.directory.suspected(p) },
      refute: () => { void this.#adverts.speakUp() }
    })
    this.#adverts = new Adverts({
      dht: () => this.#lib?.dht,
      privateKey: c.privateKey,
      peerId: c.peerId,
      nodeId: c.nodeId,
      directory: this.directory,
      logger: c.logger,
      advert: c.advert,
      load: c.load,
      members: () => this.directory.memberCount(),
      membership: () => this.#membership.current,
      removed: () => this.#removals.removed,
      chainVerified: async (peer, path) => await this.#removals.proved(peer, path),
      met: (peer) => { void this.#challenges.prove(peer) },
      publish: async (m) => { await this.#gossip.publish(m) },
      send: async (peer, protocol, write) => { await this.#send(peer, protocol, write) }
    }, { maxAgeMs: o.offlineAfterMs + MAX_CLOCK_SKEW_MS })
    this.#degree = new DegreeKeeper({
      net: () => this.#lib?.connectionManager,
      ping: () => this.#lib?.ping,
      logger: c.logger,
      trusted: () => this.directory.trustedPeers(),
      unconnected: () => this.directory.unreachableMembers().filter((p) => !this.#removals.removed.has(p.peerId)),
      mesh: () => this.#gossip.meshPeers(),
      // Kept when trimming: peers the operator connected to by hand, and peers in use (forwarded
      // requests). Bootstrap peers are not kept: every member of a hive started from one founder
      // names it, which made it a hub (see P2PHost.#dialBootstrap).
      chosen: (p) => c.host.isPinned(p) || (c.inUse?.(p) ?? false),
      bye: async (p) => {
        // This node is about to close the connection itself: its own close is no reason to suspect the peer.
        this.#byes.saw(p)
        await this.#send(p, MEMBERS_PROTOCOL, async (f) => { await pushMembers(f, [], [], true) })
      },
      directory: this.directory,
      removed: (p) => this.#removals.removed.has(p),
      self: c.peerId,
      vouch: (p) => { this.#challenges.vouch(p) },
      challenge: async (conn) => { await this.#challenges.authenticate(conn) }
    }, o.degree)
    this.#challenges = new Challenges({
      host: c.host,
      net: () => this.#lib?.connectionManager,
      privateKey: c.privateKey,
      peerId: c.peerId,
      directory: this.directory,
      guard: this.#guard,
      logger: c.logger,
      membership: () => this.#membership.current,
      removals: this.#removals,
      welcome: async (peer, news) => { await this.#welcome(peer, news) }
    })
    this.#membership = new Membership({
      host: c.host,
      net: () => this.#lib?.connectionManager,
      events: () => this.#lib?.events,
      privateKey: c.privateKey,
      peerId: c.peerId,
      repo: c.hive,
      logger: c.logger,
      audit: c.audit,
      guard: this.#guard,
      removed: () => this.#removals.removed,
      issued: (peer, path) => { this.#removals.issued(peer, path) },
      joined: (inviter) => {
        this.#joining = false
        if (inviter !== undefined) this.#challenges.vouch(inviter)
        this.#gossip.join(this.#membership.current!.hiveId)
        this.#adverts.introduce()
        this.#challenges.reauthenticateAll()
        c.host.lookAround()
      }
    })
  }

  get hiveId (): string | undefined {
    return this.#membership.current?.hiveId
  }

  /** Joining with the start's invitation, not yet a member (the invitation's member may still be out of reach). */
  get joining (): boolean {
    return this.#joining
  }

  /** Whether a peer is a proven member of this node's hive (this node counts, once it is one); the DHT asks. */
  isMember (peerId: string): boolean {
    if (this.#membership.current === undefined) return false
    return peerId === this.#c.peerId || (this.directory.isMember(peerId) && !this.#removals.removed.has(peerId))
  }

  /**
   * Whether the node wants more member connections: LAN discovery asks the LAN, and dials what it
   * finds, only then. Not while joining with a token: no peer has a use for it before it holds a
   * credential, and a fleet started together would otherwise connect to each other, slowing the
   * inviter they all wait for. (Nor its inviter found on the LAN: that only doubled the dials
   * to it while a hive of 30 formed; an invitation whose addresses went stale needs --bootstrap.)
   */
  wantsPeers (): boolean {
    return !this.#joining && this.#degree.wants()
  }

  /** Whether the node needs its bootstrap peers: not a member yet, or short of its degree (see P2PHost.wantsBootstrap). */
  wantsBootstrap (): boolean {
    return this.#membership.current === undefined || this.#degree.missing() > 0
  }

  /** Loads the membership, the removals and the peer table; call before the host starts. */
  async load (): Promise<void> {
    await this.#membership.load()
    await this.#removals.load()
    await this.directory.load()
  }

  /**
   * The hive's protocols as a libp2p service, for the host to start with libp2p's own: its
   * handlers are in place before the node listens, and go when it stops.
   */
  service (): (components: HiveLibp2p) => HiveService {
    // runOnLimitedConnection: a member behind NAT is reached through a member relay, and proves
    // itself, sends its advert and hears of the others on that connection (member relays set no
    // limit, so it is not limited, but a relay's limit must not cut a member off the hive).
    const opts = { maxInboundStreams: MAX_INBOUND_STREAMS, runOnLimitedConnection: true }
    // Each stream framed and bounded (serveFrames); `membersOnly`: for proven members only.
    const misbehaved = (p: string, why: string): void => { this.directory.misbehaved(p, why) }
    const trusted = (p: string): boolean => this.directory.isTrusted(p)
    const serve = (protocol: string, run: (f: JsonFrames, conn: Connection) => Promise<void>, membersOnly = false, options: StreamHandlerOptions = opts): ServedProtocol =>
      ({ protocol, options, handler: (s, conn) => { serveFrames(s, conn, async (f) => { await run(f, conn) }, { log: this.#log, misbehaved, ...(membersOnly ? { trusted } : {}) }) } })
    const protocols = [
      serve(AUTH_PROTOCOL, async (f, conn) => { await this.#challenges.answer(f, conn) }),
      ...LEGACY_AUTH_PROTOCOLS.map((legacy) => serve(legacy, async (f) => { await refuseAuth(f, UPGRADE_REFUSAL) })),
      serve(JOIN_PROTOCOL, async (f, conn) => { await this.#membership.admit(f, conn) }, false, { maxInboundStreams: MAX_INBOUND_STREAMS }),
      serve(CAPS_PROTOCOL, async (f, conn) => { await this.#adverts.receive(f, conn) }, true),
      serve(MEMBERS_PROTOCOL, async (f, conn) => { await this.#receiveMembers(f, conn) }, true)
    ]
    const events = connectionEvents({ directory: this.directory, challenges: this.#challenges, byes: this.#byes, logger: this.#log, connections: (p) => this.#connections(p) })
    return (components) => {
      this.#lib = components
      return new HiveService(components, { name: '@edge-hive/hive', dependencies: ['@libp2p/ping', '@libp2p/kad-dht', '@libp2p/pubsub'], protocols, ...events })
    }
  }

  #connections (peer: string): Connection[] {
    return this.#lib?.connectionManager.getConnections(peerIdFromString(peer)) ?? []
  }

  /** Once the host listens: join the hive's gossip, dial the members known from before, and join with the start token. */
  begin (): void {
    this.#lib?.pubsub.addEventListener('gossipsub:graft', () => {
      // Joined the hive's mesh (at start, or after joining): tell the hive at once, not at the next
      // heartbeat. Only then: meshes change all the time while a hive forms, and a whole advert
      // on every change was measured as a third of the gossip of a forming hive of 30.
      void this.#adverts.greet()
    })
    const every = (ms: number, fn: () => Promise<void>): void => {
      this.#timers.push(setInterval(() => { fn().catch((err: unknown) => this.#log.debug({ err: messageOf(err) }, 'hive task failed')) }, ms).unref())
    }
    // A member silent on its connection is closed (and suspected) after MISSED_PINGS spans.
    every(this.#o.offlineAfterMs, async () => { await this.#degree.ping(Math.max(2000, Math.min(10_000, Math.floor(this.#o.offlineAfterMs / 6)))) })
    every(DEGREE_INTERVAL_MS, async () => { if (this.#membership.current !== undefined) await this.#degree.keep() })
    every(CHALLENGE_RETRY_MS, async () => { await this.#challenges.challengeUnproven() })
    const m = this.#membership.current
    if (m !== undefined) {
      this.#gossip.join(m.hiveId)
      this.#adverts.introduce()
    }
    this.#adverts.startBeating(() => {
      // Every offlineAfterMs / 3, and more slowly in a big hive (members × HEARTBEAT_SPREAD_MS,
      // so the hive sends about ten a second in all); the offline window is three heartbeats.
      const every = Math.max(Math.floor(this.#o.offlineAfterMs / 3), this.directory.memberCount() * HEARTBEAT_SPREAD_MS)
      this.directory.setOfflineAfter(Math.max(this.#o.offlineAfterMs, 3 * every))
      return every
    })
    if (m !== undefined) void this.#degree.keep()
    if (this.#o.joinToken !== undefined && m === undefined) {
      this.#joining = true
      void this.#membership.joinAtStart(this.#o.joinToken, () => this.#stopped).finally(() => { this.#joining = false })
    }
  }

  /** A relay request refused (the relay's gater): aggregated in the audit log as handshake refusals are. */
  refused (action: string, peer: string, address: string, reason: string): void {
    this.#guard.refusedAt(action, peer, address, reason)
  }

  /** Says goodbye to the hive (members list this node offline at once) and stops. */
  async stop (): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    this.#adverts.stopBeating()
    this.#guard.stop()
    await this.#adverts.leaving().catch(() => undefined)
    await this.directory.stop()
  }

  /**
   * A peer just proved membership: tell it what it needs (our advert, the removals we know, where
   * the others are), and every advert held here when it is new to this node (a member that just
   * joined): one known already has them, or pulls what it misses when heartbeats name a member
   * it does not know (measured, 30 nodes: whole-table pushes on every connection were most of
   * a node's work while a hive formed).
   */
  async #welcome (peer: string, news: boolean): Promise<void> {
    const direct = this.#connections(peer).find((c) => c.status === 'open' && !isRelayed(c.remoteAddr))
    if (direct !== undefined) this.#c.host.memberProven(direct)
    await this.#adverts.sendTo(peer, news)
    await this.#send(peer, MEMBERS_PROTOCOL, async (f) => { await pushMembers(f, this.#removals.records(), this.#degree.hints(peer)) })
  }

  async #send (peer: string, protocol: string, write: (f: JsonFrames) => Promise<void>): Promise<void> {
    await sendFrames(this.#lib?.connectionManager, peer, protocol, write, this.#log)
  }

  /** Connects to a member (dialling it when no connection is open) and proves membership on the connection. */
  async reach (peerId: string): Promise<void> {
    if (this.isMember(peerId)) await this.#challenges.reach(peerId)
  }

  /** Makes a fresh advert, publishes it to the hive and (when it changed) puts it in the DHT; returns it. */
  async announce (): Promise<CapabilityDoc> {
    return await this.#adverts.announce(true)
  }

  /** `hive init`: makes a new hive with this node as its first member. */
  async init (): Promise<{ hive_id: string }> {
    return await this.#membership.init()
  }

  /** `hive invite`: a signed, expiring, counted invitation. */
  async invite (o: { ttlMs: number, uses: number }): Promise<{ token: string, expires_at: string, uses: number }> {
    return await this.#membership.invite(o)
  }

  /** `hive join <token>`: asks the inviting member for a credential and keeps it. */
  async join (token: string): Promise<{ hive_id: string, inviter: string }> {
    return await this.#membership.join(token)
  }

  /** `hive members`: this node and every peer known to be a member. */
  members (): { hive_id: string | null, members: MemberView[], removed: string[] } {
    const me: MemberView = { peer_id: this.#c.peerId, node_id: this.#c.nodeId, self: true, status: 'self', trust: 1 }
    const m = this.#membership.current
    return { hive_id: m?.hiveId ?? null, members: m === undefined ? [] : [me, ...this.directory.members()], removed: [...this.#removals.removed] }
  }

  /** `hive remove <peer_id>`: a signed removal (if the removal rule allows it), kept and sent to every member reachable now and later. */
  async remove (peerId: string): Promise<{ peer_id: string, removed: boolean }> {
    return await this.#removals.remove(peerId)
  }

  async #receiveMembers (f: JsonFrames, conn: Connection): Promise<void> {
    const { removals, members, bye } = await readMembers(f)
    await f.close()
    const from = conn.remotePeer.toString()
    if (bye) this.#byes.saw(from)
    void this.#degree.follow(members)
    await this.#removals.receive(removals, from)
  }

  /** A removal was applied: spread it, forget the removed member, or leave the hive if it is this node. */
  async #removed (r: Applied, record: string, from?: string): Promise<void> {
    if (r.peer === this.#c.peerId) {
      this.#log.warn({ by: r.by }, 'this node was removed from the hive')
      this.#gossip.leave()
      this.#adverts.forget()
      await this.#membership.leave()
      // What this node learnt as a member does not outlive its membership.
      this.#removals.forgetMembers()
      this.#challenges.unvouch()
      this.directory.leftHive()
      await this.#c.host.forgetAdverts()
      this.emit('peer', { type: 'removed', peerId: r.peer, trust: 0 })
      return
    }
    this.#log.info({ peer_id: r.peer, by: r.by }, 'member removed')
    // Spread: the whole hive by gossip; the members connected here directly too (the removed
    // one among them, so it knows it is out: it gets no gossip once removed); members that
    // connect later hear of it when they are welcomed. Not waited for: `hive remove` answers once
    // the removal holds here (measured, 30 nodes: waiting for the slowest member's stream made
    // the command take 2-6 s); each send logs its own failure.
    const tell = this.directory.trustedPeers().filter((p) => p !== from)
    this.directory.removed(r.peer)
    this.#challenges.unvouch(r.peer)
    this.#adverts.forget(r.peer)
    await this.#c.host.forgetAdverts(r.peer)
    void Promise.all([
      this.#gossip.publish({ removal: record }),
      ...tell.map(async (p) => { await this.#send(p, MEMBERS_PROTOCOL, async (f) => { await pushMembers(f, [record]) }) })
    ]).catch((err: unknown) => this.#log.debug({ err: messageOf(err) }, 'a removal was not spread'))
  }
}
