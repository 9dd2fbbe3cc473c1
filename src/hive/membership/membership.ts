import type { Connection, Libp2pEvents, PeerId, PrivateKey, TypedEventTarget } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { HiveRepository } from '../../store/index.ts'
import type { Logger } from '../../shared/logger.ts'
import { EdgeError, messageOf, type ErrorCode } from '../../shared/errors.ts'
import { printable } from '../../shared/text.ts'
import type { P2PHost } from '../p2p-host.ts'
import type { HiveNet } from '../hive-service.ts'
import type { HandshakeGuard } from '../handshake-guard.ts'
import type { AuditWrite } from '../refusal-log.ts'
import { JsonFrames } from '../protocols/framing.ts'
import { JOIN_PROTOCOL, requestJoin, readJoinRequest } from '../protocols/join.ts'
import { alreadyAMember, invalidInvitation, notAMember, p2pDisabled, HiveError } from '../errors.ts'
import { foundHive, issueCredential, verifyChain } from './credential.ts'
import { createInvitation, readInvitation, hashInvitationSecret, MAX_INVITATION_TTL_MS, MAX_INVITATION_USES } from './invitation.ts'

/**
 * Waits between tries to reach an inviter that did not answer: short, because a fleet started
 * together finds its inviter busy only while every node starts (measured, 30 nodes on two cores:
 * with waits growing to 30 s the inviter sat idle for 8 s while a third of the fleet waited).
 * A try that does not get through costs the inviter at most a refused or half-made connection.
 */
const UNREACHABLE_RETRY_MS = 2_000
const UNREACHABLE_RETRY_MAX_MS = 10_000
/** An inviter that answered `rate_limited` counts this node's tries: wait longer, growing. */
const BUSY_RETRY_MS = 5_000
const BUSY_RETRY_MAX_MS = 30_000
/** Tries to join are at least this far apart, even when a connection to the inviter opens sooner. */
const MIN_RETRY_GAP_MS = 1000
/**
 * Reaching the inviter to join may take long when many nodes join through it at once (a fleet
 * started together): each waits this long in all (each of the invitation's addresses as long as
 * libp2p lets one address take, 6 s, so that an address that drops packets does not keep the
 * others from being tried), and tries again after a random wait, so the retries do not all land
 * together.
 */
const JOIN_DIAL_TIMEOUT_MS = 30_000

/** This node's membership: its hive, its credential chain, and the chain's path (itself up to the founder). */
export interface Member { hiveId: string, chain: string[], path: string[] }

export interface MembershipComponents {
  host: Pick<P2PHost, 'listenAddrs'>
  /** libp2p's connections and events (undefined before the host starts). */
  net (): HiveNet | undefined
  events (): TypedEventTarget<Libp2pEvents> | undefined
  privateKey: PrivateKey
  peerId: string
  repo: HiveRepository
  logger: Logger
  audit: AuditWrite
  guard: HandshakeGuard
  /** Peers removed from the hive: they cannot join again, nor vouch in a chain. */
  removed (): ReadonlySet<string>
  /** This node just became a member (founded or joined through `inviter`). */
  joined (inviter?: string): void
  /** This node just issued a credential to `peer`, whose chain's path is `path`. */
  issued (peer: string, path: string[]): void
}

/** Founding a hive, inviting, joining, and the inviting member's side of a join (`/edge-hive/join/1.0.0`). */
export class Membership {
  readonly #c: MembershipComponents
  #member?: Member | undefined

  constructor (c: MembershipComponents) {
    this.#c = c
  }

  get current (): Member | undefined {
    return this.#member
  }

  async load (): Promise<void> {
    const m = await this.#c.repo.membership()
    if (m !== undefined) await this.#set(m.hiveId, m.chain)
  }

  async #set (hiveId: string, chain: string[]): Promise<void> {
    const check = await verifyChain(chain, hiveId, this.#c.peerId, new Set())
    this.#member = { hiveId, chain, path: check.ok ? check.path : [this.#c.peerId] }
  }

  /** This node was removed: forget the membership. */
  async leave (): Promise<void> {
    await this.#c.repo.clearMembership()
    this.#member = undefined
  }

  #requireP2P (): HiveNet {
    const node = this.#c.net()
    if (node === undefined) throw p2pDisabled()
    return node
  }

  /** `hive init`: makes a new hive with this node as its first member. */
  async init (): Promise<{ hive_id: string }> {
    if (this.#member !== undefined) throw alreadyAMember(this.#member.hiveId)
    const { hiveId, chain } = await foundHive(this.#c.privateKey, this.#c.peerId)
    await this.#c.repo.setMembership({ hiveId, chain, joinedAt: new Date() })
    await this.#set(hiveId, chain)
    this.#c.audit('hive.created', hiveId)
    this.#c.logger.info({ hive_id: hiveId }, 'founded a new hive')
    this.#c.joined()
    return { hive_id: hiveId }
  }

  /** `hive invite`: a signed, expiring, counted invitation; only the hash of its secret is kept. */
  async invite (o: { ttlMs: number, uses: number }): Promise<{ token: string, expires_at: string, uses: number }> {
    if (this.#member === undefined) throw notAMember()
    this.#requireP2P()
    if (!Number.isInteger(o.uses) || o.uses < 1 || o.uses > MAX_INVITATION_USES) {
      throw new HiveError('invalid_uses', `uses must be a whole number from 1 to ${MAX_INVITATION_USES}`)
    }
    if (!Number.isInteger(o.ttlMs) || o.ttlMs < 1000 || o.ttlMs > MAX_INVITATION_TTL_MS) throw new HiveError('invalid_ttl', 'ttl must be between 1 second and 30 days')
    // Loopback addresses would lead a node on another machine to itself; give them only when there is nothing else.
    const all = this.#c.host.listenAddrs()
    const outside = all.filter((a) => !/^\/ip4\/127\.|^\/ip6\/::1\//.test(a))
    const { token, doc } = await createInvitation(this.#c.privateKey, { hive: this.#member.hiveId, inviter: this.#c.peerId, ttlMs: o.ttlMs, addrs: outside.length > 0 ? outside : all })
    await this.#c.repo.addInvitation({ id: doc.id, secretHash: hashInvitationSecret(doc.secret), usesLeft: o.uses, expiresAt: new Date(doc.expires_at), createdAt: new Date() })
    this.#c.audit('hive.invitation_created', doc.id, { uses: o.uses, expires_at: new Date(doc.expires_at).toISOString() })
    return { token, expires_at: new Date(doc.expires_at).toISOString(), uses: o.uses }
  }

  /**
   * The inviting member's side of a join. Counted against the joiner's address and peer id before
   * anything else (HandshakeGuard); refusals are audited in aggregate, not one entry each.
   */
  async admit (f: JsonFrames, conn: Connection): Promise<void> {
    const joiner = conn.remotePeer.toString()
    if (!this.#c.guard.admit('join', conn)) {
      await f.write({ error: 'rate_limited', message: 'too many join requests from this peer or address; try again in a minute' })
      return await f.close()
    }
    const token = await readJoinRequest(f)
    const refuse = async (error: string, message: string): Promise<void> => {
      this.#c.guard.refused('hive.join_refused', conn, error)
      await f.write({ error, message })
      await f.close()
    }
    const m = this.#member
    if (m === undefined) return await refuse('not_a_member', 'the inviting node is no longer a member of a hive')
    let doc
    try {
      doc = await readInvitation(token)
    } catch {
      return await refuse('unknown', 'the invitation is damaged or was not issued by this node')
    }
    if (doc.inviter !== this.#c.peerId || doc.hive !== m.hiveId) return await refuse('unknown', 'the invitation was not issued by this node for its hive')
    if (this.#c.removed().has(joiner)) return await refuse('removed', 'this node was removed from the hive')
    const use = await this.#c.repo.useInvitation(doc.id, hashInvitationSecret(doc.secret), new Date())
    if (use !== 'accepted') {
      const why = { unknown: 'the invitation is not known to the inviting node', expired: 'the invitation has expired', used: 'the invitation has been used already' }[use]
      return await refuse(use, why)
    }
    const chain = await issueCredential(this.#c.privateKey, m.hiveId, m.chain, joiner)
    this.#c.issued(joiner, [joiner, ...m.path])
    this.#c.audit('hive.member_joined', joiner, { invitation: doc.id })
    this.#c.logger.info({ peer_id: joiner }, 'a new member joined with an invitation')
    await f.write({ hive: m.hiveId, chain })
    await f.close()
  }

  /** `hive join <token>`: asks the inviting member for a credential and keeps it. */
  async join (token: string): Promise<{ hive_id: string, inviter: string }> {
    if (this.#member !== undefined) throw alreadyAMember(this.#member.hiveId)
    const node = this.#requireP2P()
    const doc = await readInvitation(token)
    if (doc.expires_at <= Date.now()) throw invalidInvitation('it has expired')
    const addrs = doc.addrs.filter((a) => a.endsWith(`/p2p/${doc.inviter}`)).map((a) => { try { return multiaddr(a) } catch { return undefined } }).filter((a) => a !== undefined)
    let answer
    try {
      const target = addrs.length > 0 ? addrs : peerIdFromString(doc.inviter)
      const stream = await node.openStream(target, JOIN_PROTOCOL, { signal: AbortSignal.timeout(JOIN_DIAL_TIMEOUT_MS) })
      answer = await requestJoin(new JsonFrames(stream), token)
    } catch (err) {
      throw new HiveError('inviter_unreachable', `could not reach the inviting member ${doc.inviter}: ${printable(messageOf(err).split('\n')[0]!, 200)}`)
    }
    if (!answer.ok && answer.error === 'rate_limited') throw new HiveError('inviter_busy', `the inviting member ${doc.inviter} is busy: ${answer.message}`)
    if (!answer.ok) throw invalidInvitation(answer.message)
    const check = await verifyChain(answer.chain, answer.hive, this.#c.peerId, this.#c.removed())
    if (!check.ok || answer.hive !== doc.hive) throw new HiveError('invalid_credential', 'the inviting member answered with a credential that does not verify')
    await this.#c.repo.setMembership({ hiveId: answer.hive, chain: answer.chain, joinedAt: new Date() })
    await this.#set(answer.hive, answer.chain)
    this.#c.audit('hive.joined', answer.hive, { inviter: doc.inviter })
    this.#c.logger.info({ hive_id: answer.hive, inviter: doc.inviter }, 'joined the hive')
    this.#c.joined(doc.inviter)
    return { hive_id: answer.hive, inviter: doc.inviter }
  }

  /**
   * EDGE_HIVE_JOIN_TOKEN: tries until the inviter answers (it may start later); gives up on a
   * refusal. Between tries it waits a growing, random time, but tries again at once when a
   * connection to the inviter opens (a bootstrap dial or the inviter's own got through): a fleet
   * started together otherwise sits out its backoff with the inviter already in reach.
   */
  async joinAtStart (token: string, stopped: () => boolean): Promise<void> {
    let inviter: string | undefined
    try {
      inviter = (await readInvitation(token)).inviter
    } catch { /* join() says why */ }
    let wait = UNREACHABLE_RETRY_MS
    let busyWait = BUSY_RETRY_MS
    let code: ErrorCode | undefined
    while (!stopped() && this.#member === undefined) {
      const tried = Date.now()
      try {
        await this.join(token)
        return
      } catch (err) {
        code = err instanceof EdgeError ? err.code : undefined
        if (code !== 'inviter_unreachable' && code !== 'inviter_busy') {
          this.#c.logger.error({ code, err: messageOf(err) }, 'the join token (EDGE_HIVE_JOIN_TOKEN) was refused; not retrying')
          return
        }
        this.#c.logger.info(
          { err: messageOf(err) },
          code === 'inviter_busy' ? 'the inviting member is busy (too many joins); trying again later' : 'the inviting member is not reachable yet; trying again'
        )
      }
      // A busy inviter gets the whole wait; an unreachable one is tried again as soon as a
      // connection to it opens (but not sooner than a second after the last try).
      if (code === 'inviter_busy') {
        await this.#pause(busyWait * (0.5 + Math.random()), undefined, tried)
        busyWait = Math.min(2 * busyWait, BUSY_RETRY_MAX_MS)
      } else {
        await this.#pause(wait * (0.5 + Math.random()), inviter, tried)
        wait = Math.min(2 * wait, UNREACHABLE_RETRY_MAX_MS)
      }
    }
  }

  /** Waits `ms`, or until a connection to `peer` opened after `since` (looked at from MIN_RETRY_GAP_MS on). */
  async #pause (ms: number, peer: string | undefined, since: number): Promise<void> {
    const node = this.#c.net()
    const events = this.#c.events()
    await new Promise<void>((resolve) => {
      const onConnect = (evt: CustomEvent<PeerId>): void => { if (evt.detail.toString() === peer) done() }
      const timer = setTimeout(() => { done() }, ms).unref()
      const listen = setTimeout(() => {
        if (peer === undefined || node === undefined || events === undefined) return
        // A connection opened since the last try (during the gap, so no event will come for it).
        if (node.getConnections(peerIdFromString(peer)).some((c) => c.timeline.open >= since)) done()
        else events.addEventListener('peer:connect', onConnect)
      }, Math.min(ms, MIN_RETRY_GAP_MS)).unref()
      function done (): void {
        clearTimeout(timer)
        clearTimeout(listen)
        events?.removeEventListener('peer:connect', onConnect)
        resolve()
      }
    })
  }
}
