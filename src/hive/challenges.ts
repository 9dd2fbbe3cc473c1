import type { Connection, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../shared/logger.ts'
import { messageOf } from '../shared/errors.ts'
import type { P2PHost } from './p2p-host.ts'
import { DIAL_PRIORITY, type HiveNet } from './hive-service.ts'
import type { PeerDirectory } from './peer-directory.ts'
import type { HandshakeGuard } from './handshake-guard.ts'
import type { Member } from './membership/membership.ts'
import type { Removals } from './membership/removals.ts'
import { verifyChain } from './membership/credential.ts'
import { JsonFrames, ProtocolViolation } from './protocols/framing.ts'
import { AUTH_PROTOCOL, ReplayGuard, initiateAuth, answerAuth, refuseAuth, type AuthParty, type AuthVerdict } from './protocols/auth.ts'

/** How long opening a stream to a peer may take. */
const STREAM_TIMEOUT_MS = 10_000
/** A connected peer not proven a member is challenged again after this, doubling up to the max. */
const CHALLENGE_RETRY_MS = 5_000
const CHALLENGE_RETRY_MAX_MS = 300_000
/** Peers vouched for (named by a member, or the inviter) remembered at most. */
const MAX_VOUCHED = 1024

export interface ChallengeComponents {
  host: Pick<P2PHost, 'isChosen'>
  /** libp2p's connections (undefined before the host starts). */
  net (): HiveNet | undefined
  privateKey: PrivateKey
  peerId: string
  directory: PeerDirectory
  guard: HandshakeGuard
  logger: Logger
  membership (): Member | undefined
  removals: Pick<Removals, 'removed' | 'proved'>
  /** A peer just proved membership on a connection; `news`: it was not known here as a member before. */
  welcome (peer: string, news: boolean): Promise<void>
}

/**
 * The challenge-response (`/edge-hive/auth/3.0.0`) on connections: started by the dialling side
 * towards peers it has reason to take for members (and so show its chain first), answered for
 * anyone within the handshake limits, retried with backoff when lost; the verdict goes to the
 * peer table.
 */
export class Challenges {
  readonly #c: ChallengeComponents
  readonly #replay = new ReplayGuard()
  /** Peers this node may show its credential first: the member it joined through, members named by members. */
  readonly #vouched = new Set<string>()
  /** When to challenge an unproven connected peer again, and the wait after that. */
  readonly #retries = new Map<string, { at: number, wait: number }>()
  /** Peers that just proved membership and were not known here as members before (welcomed with everything). */
  readonly #news = new Set<string>()
  /** Peers a challenge is running with now, and the connection another was asked for on meanwhile. */
  readonly #running = new Map<string, { again?: Connection }>()

  constructor (c: ChallengeComponents) {
    this.#c = c
  }

  /** Forgets a peer vouched for (it was removed), or all of them (this node left its hive). */
  unvouch (peer?: string): void {
    if (peer === undefined) this.#vouched.clear()
    else this.#vouched.delete(peer)
  }

  #party (remote: string): AuthParty {
    return { key: this.#c.privateKey, self: this.#c.peerId, remote, credential: () => this.#c.membership()?.chain, replay: this.#replay }
  }

  /** Whether this node may start a challenge with `peer`, and so show it its credential first. */
  mayChallenge (peer: string): boolean {
    return this.#c.directory.isMember(peer) || this.#vouched.has(peer) || this.#c.host.isChosen(peer)
  }

  vouch (peer: string): void {
    if (this.#vouched.size >= MAX_VOUCHED) this.#vouched.delete(this.#vouched.keys().next().value!)
    this.#vouched.add(peer)
  }

  /** Decides whether a peer's answer proves membership; records the outcome. */
  async #judge (conn: Connection, v: AuthVerdict): Promise<boolean> {
    const peer = conn.remotePeer.toString()
    let member = false
    const known = this.#c.directory.isMember(peer)
    const m = this.#c.membership()
    if (v.proof && m !== undefined && v.credential !== null) {
      const check = await verifyChain(v.credential, m.hiveId, peer, this.#c.removals.removed)
      // A removal of this peer may have waited for its own chain (the removal rule needs it).
      if (check.ok) member = !(await this.#c.removals.proved(peer, check.path))
      else if (['malformed', 'broken', 'not_holder'].includes(check.reason)) this.#c.directory.misbehaved(peer, `a forged or malformed credential (${check.reason})`)
    }
    if (!v.proof) this.#c.guard.refused('hive.auth_failed', conn, 'a bad, stale or replayed challenge answer')
    this.#c.directory.authenticated(peer, { proof: v.proof, member })
    if (member && !known) this.#news.add(peer)
    return member
  }

  /**
   * Challenges again the connected peers that have not proven membership and that this node may
   * challenge: a challenge lost to a timeout (a busy machine, many joins at once) or run before
   * both sides had joined would otherwise leave a member untrusted for as long as the connection
   * lasts. Backs off per peer. A stranger that connects and waits is never challenged by us, so
   * it is never shown our credential.
   */
  async challengeUnproven (): Promise<void> {
    const node = this.#c.net()
    if (node === undefined || this.#c.membership() === undefined) return
    const now = Date.now()
    const due = new Map<string, Connection>()
    for (const conn of node.getConnections()) {
      const peer = conn.remotePeer.toString()
      if (this.#c.directory.isTrusted(peer) || this.#c.removals.removed.has(peer) || due.has(peer) || !this.mayChallenge(peer)) continue
      const r = this.#retries.get(peer) ?? { at: now, wait: CHALLENGE_RETRY_MS }
      if (r.at > now) continue
      this.#retries.set(peer, { at: now + r.wait, wait: Math.min(r.wait * 2, CHALLENGE_RETRY_MAX_MS) })
      due.set(peer, conn)
    }
    for (const peer of this.#retries.keys()) if (node.getConnections(peerIdFromString(peer)).length === 0) this.#retries.delete(peer)
    await Promise.all([...due.values()].map(async (conn) => { await this.authenticate(conn) }))
  }

  /**
   * A member became known here (its advert, with a chain that verifies): if this node is
   * connected to it without proof on that connection (it connected, or was challenged, before
   * it or this node had joined), the challenge runs now rather than at the next backoff step,
   * so the connection starts carrying the hive's gossip.
   */
  async prove (peer: string): Promise<void> {
    const node = this.#c.net()
    if (node === undefined || this.#c.directory.isTrusted(peer) || this.#c.removals.removed.has(peer)) return
    const conn = node.getConnections(peerIdFromString(peer)).find((c) => c.status === 'open')
    if (conn !== undefined) await this.authenticate(conn)
  }

  /**
   * Dials a peer when no connection to it is open, then proves membership on the connection. It is
   * dialled at the addresses its advert gave (a member behind NAT: through its member relay),
   * which libp2p's peer store has only once it has been connected to that member.
   */
  async reach (peer: string): Promise<void> {
    const node = this.#c.net()
    if (node === undefined) return
    const id = peerIdFromString(peer)
    if (node.getConnections(id).length === 0) {
      const addrs = this.#c.directory.addressesOf(peer).filter((a) => a.endsWith(`/p2p/${peer}`)).map((a) => multiaddr(a))
      await node.openConnection(addrs.length > 0 ? addrs : id, { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS), priority: DIAL_PRIORITY })
    }
    await this.prove(peer)
  }

  async authenticate (conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    // One challenge at a time per peer: several reasons to challenge often come together. One
    // asked for while another runs runs once after it (something changed since it began, such
    // as this node joining), unless that one proved the peer.
    const running = this.#running.get(peer)
    if (running !== undefined) {
      running.again = conn
      return
    }
    const state: { again?: Connection } = {}
    this.#running.set(peer, state)
    try {
      let next: Connection | undefined = conn
      while (next !== undefined) {
        state.again = undefined
        await this.#authenticate(next, peer)
        // The one asked for meanwhile, on its own connection (the first may have closed), and
        // only if this node may still challenge that peer (it may have been removed meanwhile).
        next = state.again as Connection | undefined
        if (next === undefined || next.status !== 'open' || this.#c.directory.isTrusted(peer) || this.#c.removals.removed.has(peer) || !this.mayChallenge(peer)) break
      }
    } finally {
      this.#running.delete(peer)
    }
  }

  async #authenticate (conn: Connection, peer: string): Promise<void> {
    let trusted = false
    try {
      const stream = await conn.newStream(AUTH_PROTOCOL, { signal: AbortSignal.timeout(STREAM_TIMEOUT_MS), runOnLimitedConnection: true })
      const f = new JsonFrames(stream)
      try {
        const out = await initiateAuth(f, this.#party(peer), async (v) => (trusted = await this.#judge(conn, v)))
        if (out.refused !== undefined) this.#c.logger.debug({ peer_id: peer, refused: out.refused }, 'the peer refused our challenge')
        if (!out.accepted) trusted = false
      } catch (err) {
        f.abort(messageOf(err))
        throw err
      }
    } catch (err) {
      if (err instanceof ProtocolViolation) this.#c.directory.misbehaved(peer, err.message)
      else this.#c.logger.debug({ peer_id: peer, err: messageOf(err) }, 'no challenge with this peer (not an Edge Hive node, or gone)')
      this.#news.delete(peer)
      return
    }
    const news = this.#news.delete(peer)
    if (trusted) {
      this.#retries.delete(peer)
      await this.#c.welcome(peer, news)
    }
  }

  async answer (f: JsonFrames, conn: Connection): Promise<void> {
    if (!this.#c.guard.admit('auth', conn)) return await refuseAuth(f, 'rate_limited')
    const { accepted, trusted } = await answerAuth(f, this.#party(conn.remotePeer.toString()), async (v) => await this.#judge(conn, v))
    const peer = conn.remotePeer.toString()
    if (trusted && accepted) await this.#c.welcome(peer, this.#news.delete(peer))
    else this.#news.delete(peer)
  }

  /** Runs the challenge again with every peer this node may challenge (after its membership changed). */
  reauthenticateAll (): void {
    const node = this.#c.net()
    if (node === undefined) return
    const seen = new Set<string>()
    for (const conn of node.getConnections()) {
      const id = conn.remotePeer.toString()
      if (seen.has(id) || !this.mayChallenge(id)) continue
      seen.add(id)
      void this.authenticate(conn)
    }
  }
}
