import { EventEmitter } from 'node:events'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { HiveRepository, PeerRecord, PeerRepository } from '../store/index.ts'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { P2PHost } from './p2p-host.ts'
import { PeerDirectory, type PeerEvent } from './peer-directory.ts'
import { foundHive, issueCredential, verifyChain } from './membership/credential.ts'
import { createInvitation, readInvitation, hashInvitationSecret, MAX_INVITATION_TTL_MS, MAX_INVITATION_USES } from './membership/invitation.ts'
import { signRemoval, verifyRemoval } from './membership/removal.ts'
import { JsonFrames, ProtocolViolation } from './protocols/framing.ts'
import { AUTH_PROTOCOL, ReplayGuard, initiateAuth, answerAuth, type AuthParty, type AuthVerdict } from './protocols/auth.ts'
import { CAPS_PROTOCOL, sealCapabilities, openCapabilities, pushCapabilities, type CapabilityDoc } from './protocols/caps.ts'
import { MEMBERS_PROTOCOL, pushMembers, readMembers, type MemberHint } from './protocols/members.ts'
import { JOIN_PROTOCOL, requestJoin, readJoinRequest } from './protocols/join.ts'
import { alreadyAMember, invalidInvitation, notAMember, p2pDisabled, HiveError } from './errors.ts'
import { capabilityKey } from './dht-records.ts'

/** How long opening a stream to a peer may take. */
const STREAM_TIMEOUT_MS = 10_000
/** Inbound streams per connection for each hive protocol: a peer cannot make the node juggle more. */
const MAX_INBOUND_STREAMS = 4
const REDIAL_INTERVAL_MS = 10_000
/** A connected peer not proven a member is challenged again after this, doubling up to the max. */
const CHALLENGE_RETRY_MS = 5_000
const CHALLENGE_RETRY_MAX_MS = 300_000
const JOIN_RETRY_MS = 5_000

export interface HiveComponents {
  host: P2PHost
  privateKey: PrivateKey
  peerId: string
  nodeId: string
  hive: HiveRepository
  peers: PeerRepository
  logger: Logger
  /** The node's current advert (the seed's document without peer_id, node_id and seq). */
  advert (): Record<string, unknown>
  /** Something happened that the audit log keeps (members joining, removals). */
  audit (action: string, target: string, detail?: Record<string, unknown>): void
}

export interface HiveOptions {
  /** A member that stops answering is `offline` after this long. */
  offlineAfterMs: number
  /** The advert is refreshed and sent again this often. */
  advertRefreshMs: number
  /** An invitation to use at start when this node is not yet a member (EDGE_HIVE_JOIN_TOKEN). */
  joinToken?: string | undefined
}

/** A member as `hive members` lists it. */
export interface MemberView {
  peer_id: string
  node_id?: string | undefined
  self: boolean
  status: 'self' | PeerRecord['status']
  trust: number
  last_seen?: string | undefined
}

/**
 * The hive: membership (found, invite, join, remove), the challenge-response on every
 * connection, capability adverts, removals spreading between members, and the peer table
 * with its health checks. Every hive protocol but auth and join refuses peers that have not
 * proven membership on their current connection.
 */
export class Hive extends EventEmitter<{ peer: [PeerEvent] }> {
  readonly #c: HiveComponents
  readonly #o: HiveOptions
  readonly #log: Logger
  readonly directory: PeerDirectory
  readonly #replay = new ReplayGuard()
  #hiveId?: string | undefined
  #chain?: string[] | undefined
  readonly #removed = new Set<string>()
  readonly #removalRecords: string[] = []
  #seq = 0
  #advert?: { doc: CapabilityDoc, record: string }
  /** When to challenge an unproven connected peer again, and the wait after that. */
  readonly #retries = new Map<string, { at: number, wait: number }>()
  readonly #timers: NodeJS.Timeout[] = []
  #stopped = false

  constructor (c: HiveComponents, o: HiveOptions) {
    super()
    this.#c = c
    this.#o = o
    this.#log = c.logger
    this.directory = new PeerDirectory({ repo: c.peers, logger: c.logger }, { offlineAfterMs: o.offlineAfterMs })
    this.directory.on('peer', (e) => this.emit('peer', e))
  }

  get hiveId (): string | undefined {
    return this.#hiveId
  }

  /** Loads the membership and the peer table and installs the protocol handlers; call before the host starts. */
  async start (): Promise<void> {
    const m = await this.#c.hive.membership()
    this.#hiveId = m?.hiveId
    this.#chain = m?.chain
    for (const r of await this.#c.hive.removals()) {
      this.#removed.add(r.peerId)
      this.#removalRecords.push(r.record)
    }
    await this.directory.load()
    const node = this.#c.host.libp2p
    if (node === undefined) return
    const opts = { maxInboundStreams: MAX_INBOUND_STREAMS }
    await node.handle(AUTH_PROTOCOL, (s, conn) => this.#serve(s, conn, async (f) => { await this.#answerAuth(f, conn) }), opts)
    await node.handle(JOIN_PROTOCOL, (s, conn) => this.#serve(s, conn, async (f) => { await this.#admit(f, conn) }), opts)
    await node.handle(CAPS_PROTOCOL, (s, conn) => this.#serve(s, conn, async (f) => { await this.#receiveAdvert(f, conn) }, true), opts)
    await node.handle(MEMBERS_PROTOCOL, (s, conn) => this.#serve(s, conn, async (f) => { await this.#receiveMembers(f, conn) }, true), opts)

    node.addEventListener('connection:open', (evt) => {
      const conn = evt.detail
      this.directory.connected(conn.remotePeer.toString(), [conn.remoteAddr.toString()])
      // The dialling side starts the challenge; the answering side waits for it.
      if (conn.direction === 'outbound') void this.#authenticate(conn)
    })
    node.addEventListener('connection:close', (evt) => {
      const peer = evt.detail.remotePeer
      if (node.getConnections(peer).length === 0) this.directory.disconnected(peer.toString())
    })
    node.addEventListener('peer:identify', (evt) => {
      const addrs = evt.detail.listenAddrs.map((a) => `${a.toString()}/p2p/${evt.detail.peerId.toString()}`)
      this.directory.addresses(evt.detail.peerId.toString(), addrs)
    })

    const every = (ms: number, fn: () => Promise<void>): void => {
      this.#timers.push(setInterval(() => { fn().catch((err: unknown) => this.#log.debug({ err: messageOf(err) }, 'hive task failed')) }, ms).unref())
    }
    every(Math.max(1000, Math.floor(this.#o.offlineAfterMs / 3)), async () => { await this.#pingAll() })
    every(this.#o.advertRefreshMs, async () => { await this.announce() })
    every(REDIAL_INTERVAL_MS, async () => { await this.#redialMembers() })
    every(CHALLENGE_RETRY_MS, async () => { await this.#challengeUnproven() })
  }

  /** Once the host listens: dial the members known from before, and join with the start token. */
  begin (): void {
    void this.#redialMembers()
    if (this.#o.joinToken !== undefined && this.#hiveId === undefined) void this.#joinAtStart(this.#o.joinToken)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    await this.directory.stop()
  }

  /** Runs one inbound protocol stream: bounded, and a broken message counts against the peer. */
  #serve (stream: Stream, conn: Connection, run: (f: JsonFrames) => Promise<void>, membersOnly = false): void {
    const peer = conn.remotePeer.toString()
    const f = new JsonFrames(stream)
    if (membersOnly && !this.directory.isTrusted(peer)) {
      // Hive protocols are for proven members only; the peer learns nothing else.
      this.#log.debug({ peer_id: peer, protocol: stream.protocol }, 'refused a hive stream from a peer that has not proven membership')
      f.abort('not a proven member of this hive')
      return
    }
    run(f).catch((err: unknown) => {
      if (err instanceof ProtocolViolation) this.directory.misbehaved(peer, err.message)
      else this.#log.debug({ peer_id: peer, err: messageOf(err) }, 'hive stream failed')
      f.abort(messageOf(err))
    })
  }

  #party (remote: string): AuthParty {
    return { key: this.#c.privateKey, self: this.#c.peerId, remote, credential: () => this.#chain, replay: this.#replay }
  }

  /** Decides whether a peer's answer proves membership; records the outcome. */
  async #judge (peer: string, v: AuthVerdict): Promise<boolean> {
    let member = false
    if (v.proof && this.#hiveId !== undefined && v.credential !== null) {
      const check = await verifyChain(v.credential, this.#hiveId, peer, this.#removed)
      member = check.ok
      if (!check.ok && ['malformed', 'broken', 'not_holder'].includes(check.reason)) this.directory.misbehaved(peer, `a forged or malformed credential (${check.reason})`)
    }
    if (!v.proof) this.#log.warn({ peer_id: peer }, 'a peer failed the challenge (bad, stale or replayed answer)')
    this.directory.authenticated(peer, { proof: v.proof, member })
    return member
  }

  /**
   * Challenges again the connected peers that have not proven membership: a challenge lost to a
   * timeout (a busy machine, many joins at once) or run before both sides had joined would
   * otherwise leave a member untrusted for as long as the connection lasts. Backs off per peer,
   * so a stranger costs little.
   */
  async #challengeUnproven (): Promise<void> {
    const node = this.#c.host.libp2p
    if (node === undefined || this.#hiveId === undefined) return
    const now = Date.now()
    const due = new Map<string, Connection>()
    for (const conn of node.getConnections()) {
      const peer = conn.remotePeer.toString()
      if (this.directory.isTrusted(peer) || this.#removed.has(peer) || due.has(peer)) continue
      const r = this.#retries.get(peer) ?? { at: now, wait: CHALLENGE_RETRY_MS }
      if (r.at > now) continue
      this.#retries.set(peer, { at: now + r.wait, wait: Math.min(r.wait * 2, CHALLENGE_RETRY_MAX_MS) })
      due.set(peer, conn)
    }
    for (const peer of this.#retries.keys()) if (node.getConnections(peerIdFromString(peer)).length === 0) this.#retries.delete(peer)
    await Promise.all([...due.values()].map(async (conn) => { await this.#authenticate(conn) }))
  }

  async #authenticate (conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    let trusted = false
    try {
      const stream = await conn.newStream(AUTH_PROTOCOL, { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) })
      const f = new JsonFrames(stream)
      try {
        await initiateAuth(f, this.#party(peer), async (v) => { trusted = await this.#judge(peer, v) })
      } catch (err) {
        f.abort(messageOf(err))
        throw err
      }
    } catch (err) {
      if (err instanceof ProtocolViolation) this.directory.misbehaved(peer, err.message)
      else this.#log.debug({ peer_id: peer, err: messageOf(err) }, 'no challenge with this peer (not an Edge Hive node, or gone)')
      return
    }
    if (trusted) {
      this.#retries.delete(peer)
      await this.#welcome(peer)
    }
  }

  async #answerAuth (f: JsonFrames, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    let trusted = false
    await answerAuth(f, this.#party(peer), async (v) => (trusted = await this.#judge(peer, v)))
    if (trusted) await this.#welcome(peer)
  }

  /** A peer just proved membership: tell it what it needs (our advert, the removals we know). */
  async #welcome (peer: string): Promise<void> {
    await this.#sendAdvert(peer, (await this.#currentAdvert()).record)
    await this.#send(peer, MEMBERS_PROTOCOL, async (f) => { await pushMembers(f, this.#removalRecords, this.#memberHints(peer)) })
  }

  /** The members this node is connected to and proven, with where to dial them (not `to` itself). */
  #memberHints (to: string): MemberHint[] {
    return this.directory.list()
      .filter((p) => p.peerId !== to && this.directory.isTrusted(p.peerId))
      .map((p) => ({ peer_id: p.peerId, addrs: p.addresses.filter((a) => a.endsWith(`/p2p/${p.peerId}`)) }))
      .filter((h) => h.addrs.length > 0)
  }

  /** Dials the members another member named that this node is not connected to yet. */
  async #dialHints (hints: MemberHint[]): Promise<void> {
    const node = this.#c.host.libp2p
    if (node === undefined) return
    await Promise.all(hints.filter((h) => h.peer_id !== this.#c.peerId && !this.#removed.has(h.peer_id)).map(async (h) => {
      try {
        const id = peerIdFromString(h.peer_id)
        if (node.getConnections(id).length > 0) return
        const addrs = h.addrs.filter((a) => a.endsWith(`/p2p/${h.peer_id}`)).map((a) => multiaddr(a))
        if (addrs.length > 0) await node.dial(addrs, { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) })
      } catch (err) {
        this.#log.debug({ peer_id: h.peer_id, err: messageOf(err) }, 'a member named by another could not be dialled')
      }
    }))
  }

  /** Runs the challenge again on every connection (after this node's membership changed). */
  #reauthenticateAll (): void {
    const node = this.#c.host.libp2p
    if (node === undefined) return
    const seen = new Set<string>()
    for (const conn of node.getConnections()) {
      const id = conn.remotePeer.toString()
      if (seen.has(id)) continue
      seen.add(id)
      void this.#authenticate(conn)
    }
  }

  async #send (peer: string, protocol: string, write: (f: JsonFrames) => Promise<void>): Promise<void> {
    const node = this.#c.host.libp2p
    if (node === undefined) return
    try {
      const stream = await node.dialProtocol(peerIdFromString(peer), protocol, { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) })
      const f = new JsonFrames(stream)
      await write(f).catch((err: unknown) => { f.abort(messageOf(err)); throw err })
    } catch (err) {
      this.#log.debug({ peer_id: peer, protocol, err: messageOf(err) }, 'could not send to peer')
    }
  }

  // --- capability adverts -------------------------------------------------------------

  async #currentAdvert (): Promise<{ doc: CapabilityDoc, record: string }> {
    if (this.#advert !== undefined) return this.#advert
    return await this.#makeAdvert()
  }

  async #makeAdvert (): Promise<{ doc: CapabilityDoc, record: string }> {
    // Time-based, so it keeps growing across restarts without being stored.
    this.#seq = Math.max(this.#seq + 1, Date.now())
    const doc: CapabilityDoc = { ...this.#c.advert(), node_id: this.#c.nodeId, peer_id: this.#c.peerId, seq: this.#seq }
    this.#advert = { doc, record: await sealCapabilities(this.#c.privateKey, doc) }
    return this.#advert
  }

  async #sendAdvert (peer: string, record: string): Promise<void> {
    await this.#send(peer, CAPS_PROTOCOL, async (f) => { await pushCapabilities(f, record) })
  }

  /** Makes a fresh advert, sends it to every proven member and puts it in the DHT; returns it. */
  async announce (): Promise<CapabilityDoc> {
    const { doc, record } = await this.#makeAdvert()
    await Promise.all(this.directory.trustedPeers().map(async (p) => { await this.#sendAdvert(p, record) }))
    void this.#putInDht(record)
    return doc
  }

  async #putInDht (record: string): Promise<void> {
    const dht = (this.#c.host.libp2p?.services as { dht?: { put: (k: Uint8Array, v: Uint8Array, o: { signal: AbortSignal }) => AsyncIterable<unknown> } } | undefined)?.dht
    if (dht === undefined || this.#hiveId === undefined) return
    try {
      for await (const _ of dht.put(capabilityKey(this.#c.peerId), new Uint8Array(Buffer.from(record, 'base64url')), { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) })) { /* progress events */ }
    } catch (err) {
      this.#log.debug({ err: messageOf(err) }, 'advert not put in the DHT (no DHT peers yet)')
    }
  }

  async #receiveAdvert (f: JsonFrames, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const m = await f.read()
    const doc = await openCapabilities(m.record, peer)
    const outcome = this.directory.capabilities(peer, doc)
    if (outcome === 'stale') throw new ProtocolViolation('a capability record whose sequence went backwards')
    const p2p = (doc.capabilities as { p2p?: { listen_addrs?: unknown } } | undefined)?.p2p
    if (Array.isArray(p2p?.listen_addrs)) this.directory.addresses(peer, p2p.listen_addrs.filter((a): a is string => typeof a === 'string'))
    await f.close()
  }

  // --- health -----------------------------------------------------------------------------

  async #pingAll (): Promise<void> {
    const node = this.#c.host.libp2p
    if (node === undefined) return
    const ping = (node.services as { ping: Ping }).ping
    await Promise.all(this.directory.trustedPeers().map(async (p) => {
      try {
        await ping.ping(peerIdFromString(p), { signal: AbortSignal.timeout(Math.max(1000, Math.floor(this.#o.offlineAfterMs / 2))) })
        this.directory.answered(p, true)
      } catch {
        this.directory.answered(p, false)
      }
    }))
  }

  /** Members that went away are dialled again at the addresses they last had; a restarted one comes back `online`. */
  async #redialMembers (): Promise<void> {
    const node = this.#c.host.libp2p
    if (node === undefined || this.#stopped) return
    await Promise.all(this.directory.unreachableMembers().filter((p) => !this.#removed.has(p.peerId)).map(async (p) => {
      const addrs = p.addresses.filter((a) => a.endsWith(`/p2p/${p.peerId}`))
      if (addrs.length === 0) return
      await node.dial(addrs.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) }).catch(() => undefined)
    }))
  }

  // --- membership ---------------------------------------------------------------------------

  #requireP2P (): NonNullable<P2PHost['libp2p']> {
    const node = this.#c.host.libp2p
    if (node === undefined) throw p2pDisabled()
    return node
  }

  #requireMember (): { hiveId: string, chain: string[] } {
    if (this.#hiveId === undefined || this.#chain === undefined) throw notAMember()
    return { hiveId: this.#hiveId, chain: this.#chain }
  }

  /** `hive init`: makes a new hive with this node as its first member. */
  async init (): Promise<{ hive_id: string }> {
    if (this.#hiveId !== undefined) throw alreadyAMember(this.#hiveId)
    const { hiveId, chain } = await foundHive(this.#c.privateKey, this.#c.peerId)
    await this.#c.hive.setMembership({ hiveId, chain, joinedAt: new Date() })
    this.#hiveId = hiveId
    this.#chain = chain
    this.#c.audit('hive.created', hiveId)
    this.#log.info({ hive_id: hiveId }, 'founded a new hive')
    this.#reauthenticateAll()
    return { hive_id: hiveId }
  }

  /** `hive invite`: a signed, expiring, counted invitation; only the hash of its secret is kept. */
  async invite (o: { ttlMs: number, uses: number }): Promise<{ token: string, expires_at: string, uses: number }> {
    const { hiveId } = this.#requireMember()
    this.#requireP2P()
    if (!Number.isInteger(o.uses) || o.uses < 1 || o.uses > MAX_INVITATION_USES) throw new HiveError('ERR_INVALID_USES', `uses must be a whole number from 1 to ${MAX_INVITATION_USES}`, { status: 400 })
    if (!Number.isInteger(o.ttlMs) || o.ttlMs < 1000 || o.ttlMs > MAX_INVITATION_TTL_MS) throw new HiveError('ERR_INVALID_TTL', 'ttl must be between 1 second and 30 days', { status: 400 })
    // Loopback addresses would lead a node on another machine to itself; give them only when there is nothing else.
    const all = this.#c.host.listenAddrs()
    const outside = all.filter((a) => !/^\/ip4\/127\.|^\/ip6\/::1\//.test(a))
    const { token, doc } = await createInvitation(this.#c.privateKey, { hive: hiveId, inviter: this.#c.peerId, ttlMs: o.ttlMs, addrs: outside.length > 0 ? outside : all })
    await this.#c.hive.addInvitation({ id: doc.id, secretHash: hashInvitationSecret(doc.secret), usesLeft: o.uses, expiresAt: new Date(doc.expires_at), createdAt: new Date() })
    this.#c.audit('hive.invitation_created', doc.id, { uses: o.uses, expires_at: new Date(doc.expires_at).toISOString() })
    return { token, expires_at: new Date(doc.expires_at).toISOString(), uses: o.uses }
  }

  /** The inviting member's side of a join. */
  async #admit (f: JsonFrames, conn: Connection): Promise<void> {
    const joiner = conn.remotePeer.toString()
    const token = await readJoinRequest(f)
    const refuse = async (error: string, message: string): Promise<void> => {
      this.#c.audit('hive.join_refused', joiner, { reason: error })
      await f.write({ error, message })
      await f.close()
    }
    if (this.#hiveId === undefined || this.#chain === undefined) return await refuse('not_a_member', 'the inviting node is no longer a member of a hive')
    let doc
    try {
      doc = await readInvitation(token)
    } catch {
      return await refuse('unknown', 'the invitation is damaged or was not issued by this node')
    }
    if (doc.inviter !== this.#c.peerId || doc.hive !== this.#hiveId) return await refuse('unknown', 'the invitation was not issued by this node for its hive')
    if (this.#removed.has(joiner)) return await refuse('removed', 'this node was removed from the hive')
    const use = await this.#c.hive.useInvitation(doc.id, hashInvitationSecret(doc.secret), new Date())
    if (use !== 'accepted') {
      const why = { unknown: 'the invitation is not known to the inviting node', expired: 'the invitation has expired', used: 'the invitation has been used already' }[use]
      return await refuse(use, why)
    }
    const chain = await issueCredential(this.#c.privateKey, this.#hiveId, this.#chain, joiner)
    this.#c.audit('hive.member_joined', joiner, { invitation: doc.id })
    this.#log.info({ peer_id: joiner }, 'a new member joined with an invitation')
    await f.write({ hive: this.#hiveId, chain })
    await f.close()
  }

  /** `hive join <token>`: asks the inviting member for a credential and keeps it. */
  async join (token: string): Promise<{ hive_id: string, inviter: string }> {
    if (this.#hiveId !== undefined) throw alreadyAMember(this.#hiveId)
    const node = this.#requireP2P()
    const doc = await readInvitation(token)
    if (doc.expires_at <= Date.now()) throw invalidInvitation('it has expired')
    const addrs = doc.addrs.filter((a) => a.endsWith(`/p2p/${doc.inviter}`)).map((a) => { try { return multiaddr(a) } catch { return undefined } }).filter((a) => a !== undefined)
    let answer
    try {
      const target = addrs.length > 0 ? addrs : peerIdFromString(doc.inviter)
      const stream = await node.dialProtocol(target, JOIN_PROTOCOL, { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS) })
      answer = await requestJoin(new JsonFrames(stream), token)
    } catch (err) {
      throw new HiveError('ERR_INVITER_UNREACHABLE', `could not reach the inviting member ${doc.inviter}: ${messageOf(err)}`, { status: 502 })
    }
    if (!answer.ok) throw invalidInvitation(answer.message)
    const check = await verifyChain(answer.chain, answer.hive, this.#c.peerId, this.#removed)
    if (!check.ok || answer.hive !== doc.hive) throw new HiveError('ERR_INVALID_CREDENTIAL', 'the inviting member answered with a credential that does not verify', { status: 502 })
    await this.#c.hive.setMembership({ hiveId: answer.hive, chain: answer.chain, joinedAt: new Date() })
    this.#hiveId = answer.hive
    this.#chain = answer.chain
    this.#c.audit('hive.joined', answer.hive, { inviter: doc.inviter })
    this.#log.info({ hive_id: answer.hive, inviter: doc.inviter }, 'joined the hive')
    this.#reauthenticateAll()
    return { hive_id: answer.hive, inviter: doc.inviter }
  }

  /** EDGE_HIVE_JOIN_TOKEN: tries until the inviter answers (it may start later); gives up on a refusal. */
  async #joinAtStart (token: string): Promise<void> {
    while (!this.#stopped && this.#hiveId === undefined) {
      try {
        await this.join(token)
        return
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code !== 'ERR_INVITER_UNREACHABLE') {
          this.#log.error({ code, err: messageOf(err) }, 'the join token (EDGE_HIVE_JOIN_TOKEN) was refused; not retrying')
          return
        }
        this.#log.info('the inviting member is not reachable yet; trying again')
      }
      await new Promise((resolve) => setTimeout(resolve, JOIN_RETRY_MS).unref())
    }
  }

  /** `hive members`: this node and every peer known to be a member. */
  members (): { hive_id: string | null, members: MemberView[], removed: string[] } {
    const me: MemberView = { peer_id: this.#c.peerId, node_id: this.#c.nodeId, self: true, status: 'self', trust: 1 }
    const others = this.directory.list().filter((p) => p.member).map((p): MemberView => ({
      peer_id: p.peerId, node_id: p.nodeId, self: false, status: p.status, trust: p.trust, last_seen: p.lastSeen.toISOString()
    }))
    return { hive_id: this.#hiveId ?? null, members: this.#hiveId === undefined ? [] : [me, ...others], removed: [...this.#removed] }
  }

  /** `hive remove <peer_id>`: a signed removal, kept and sent to every member reachable now and later. */
  async remove (peerId: string): Promise<{ peer_id: string, removed: boolean }> {
    const { hiveId, chain } = this.#requireMember()
    if (peerId === this.#c.peerId) throw new HiveError('ERR_REMOVE_SELF', 'a node cannot remove itself; remove it from another member', { status: 400 })
    if (this.#removed.has(peerId)) return { peer_id: peerId, removed: false }
    const record = await signRemoval(this.#c.privateKey, hiveId, peerId, chain)
    await this.#applyRemoval(record, { peer: peerId, by: this.#c.peerId, at: new Date() })
    return { peer_id: peerId, removed: true }
  }

  async #receiveMembers (f: JsonFrames, conn: Connection): Promise<void> {
    const from = conn.remotePeer.toString()
    const { removals: records, members } = await readMembers(f)
    await f.close()
    void this.#dialHints(members)
    for (const record of records) {
      if (this.#hiveId === undefined) return
      const r = await verifyRemoval(record, this.#hiveId, this.#removed)
      if (r === undefined) {
        this.directory.misbehaved(from, 'a removal that does not verify')
        continue
      }
      await this.#applyRemoval(record as string, r, from)
    }
  }

  async #applyRemoval (record: string, r: { peer: string, by: string, at: Date }, from?: string): Promise<void> {
    if (this.#removed.has(r.peer)) return
    const added = await this.#c.hive.addRemoval({ peerId: r.peer, removedBy: r.by, removedAt: r.at, record })
    this.#removed.add(r.peer)
    this.#removalRecords.push(record)
    if (!added) return
    this.#c.audit('hive.member_removed', r.peer, { by: r.by })
    if (r.peer === this.#c.peerId) {
      this.#log.warn({ by: r.by }, 'this node was removed from the hive')
      await this.#c.hive.clearMembership()
      this.#hiveId = undefined
      this.#chain = undefined
      return
    }
    this.#log.info({ peer_id: r.peer, by: r.by }, 'member removed')
    // Spread: every proven member hears of it now (the removed one too, so it knows it is out);
    // members that connect later hear of it when they are welcomed.
    const tell = this.directory.trustedPeers().filter((p) => p !== from)
    this.directory.removed(r.peer)
    await Promise.all(tell.map(async (p) => {
      await this.#send(p, MEMBERS_PROTOCOL, async (f) => { await pushMembers(f, [record]) })
    }))
  }
}
