import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Logger } from '../../shared/logger.ts'
import { messageOf } from '../../shared/errors.ts'
import { ProtocolViolation } from '../protocols/framing.ts'
import { decodeGossip, encodeGossip, hiveTopic, openSuspicion, sealSuspicion, type GossipMessage } from '../protocols/gossip.ts'
import type { AdvertEntry } from '../protocols/caps.ts'

/** Suspicions one member may raise a minute; more are ignored (not passed on). */
const SUSPICIONS_PER_MINUTE = 20
/** This node answers a suspicion of itself at most this often. */
const REFUTE_EVERY_MS = 1000

const { Accept, Ignore, Reject } = TopicValidatorResult
type Verdict = TopicValidatorResult

export interface HiveGossipComponents {
  /** The gossipsub service of the running host; undefined before it starts and after it stops. */
  pubsub (): GossipSub | undefined
  peerId: string
  privateKey: PrivateKey
  logger: Logger
  /** Whether the peer proved membership on its current connection: only such peers may relay to this node. */
  isTrusted (peer: string): boolean
  /** Whether the peer is a member this node knows (proven here, or by a chain seen in its advert). */
  isMember (peer: string): boolean
  /** A relayed message was forged or malformed: counted against the member that relayed it. */
  misbehaved (peer: string, why: string): void
  advert (e: AdvertEntry, from: string): Promise<'accepted' | 'duplicate' | 'stale'>
  beat (record: string, from: string): Promise<'accepted' | 'duplicate' | 'stale' | 'unknown'>
  removal (record: string, from: string): Promise<'applied' | 'held' | 'known' | 'refused'>
  /** A member says `peer` dropped its connection: unless `peer` speaks up soon, it is offline. */
  suspected (peer: string): void
  /** Someone suspects this node: publish a fresh advert now. */
  refute (): void
}

/**
 * The hive's broadcast over libp2p gossipsub: one topic per hive (protocols/gossip.ts), on which
 * members publish their adverts (every heartbeat), removals and suspicions. Each message is
 * checked before gossipsub passes it on (`topicValidators`): it must come through a peer that
 * proved membership on its current connection, and carry records signed by a member; forged
 * ones are rejected (gossipsub lowers the relayer's score, and the peer table its trust),
 * duplicates and old ones ignored (not passed on, not held against anyone).
 */
export class HiveGossip {
  readonly #c: HiveGossipComponents
  #topic?: string
  #hiveId?: string
  #lastRefute = 0
  readonly #suspicions = new Map<string, { at: number, count: number }>()

  constructor (c: HiveGossipComponents) {
    this.#c = c
  }

  /** Joins the hive's topic (at start when a member, and when this node joins a hive). */
  join (hiveId: string): void {
    const pubsub = this.#c.pubsub()
    if (pubsub === undefined || this.#hiveId === hiveId) return
    this.leave()
    this.#hiveId = hiveId
    this.#topic = hiveTopic(hiveId)
    pubsub.topicValidators.set(this.#topic, async (source, msg) => await this.#validate(source, msg))
    pubsub.subscribe(this.#topic)
  }

  /** Leaves the topic (this node was removed from its hive). */
  leave (): void {
    const pubsub = this.#c.pubsub()
    if (this.#topic !== undefined && pubsub !== undefined) {
      pubsub.unsubscribe(this.#topic)
      pubsub.topicValidators.delete(this.#topic)
    }
    this.#topic = undefined
    this.#hiveId = undefined
  }

  async publish (m: GossipMessage): Promise<void> {
    const pubsub = this.#c.pubsub()
    if (pubsub === undefined || this.#topic === undefined) return
    try {
      await pubsub.publish(this.#topic, encodeGossip(m))
    } catch (err) {
      this.#c.logger.debug({ err: messageOf(err) }, 'could not publish to the hive')
    }
  }

  /** This node lost its connection to member `peer` (not said goodbye): members hear of it. */
  async suspect (peer: string): Promise<void> {
    if (this.#hiveId === undefined) return
    this.#c.suspected(peer)
    await this.publish({ suspect: await sealSuspicion(this.#c.privateKey, this.#hiveId, peer) })
  }

  /** Peers this node is in the topic's mesh with (for the degree keeper: those are kept). */
  meshPeers (): string[] {
    const pubsub = this.#c.pubsub()
    // Not in the GossipSub interface, but public on the service (and used by libp2p's own tests).
    return pubsub === undefined || this.#topic === undefined ? [] : (pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(this.#topic)
  }

  async #validate (source: PeerId, msg: Message): Promise<Verdict> {
    const from = source.toString()
    // Only proven members relay; a stranger's message is refused whatever it holds.
    if (!this.#c.isTrusted(from)) return Reject
    try {
      const m = decodeGossip(msg.data)
      if ('advert' in m) return (await this.#c.advert(m.advert, from)) === 'accepted' ? Accept : Ignore
      if ('beat' in m) return (await this.#c.beat(m.beat, from)) === 'accepted' ? Accept : Ignore
      if ('removal' in m) {
        const r = await this.#c.removal(m.removal, from)
        return r === 'refused' ? Reject : r === 'known' ? Ignore : Accept
      }
      return await this.#suspicion(m.suspect)
    } catch (err) {
      if (!(err instanceof ProtocolViolation)) {
        this.#c.logger.debug({ peer_id: from, err: messageOf(err) }, 'a gossip message could not be handled')
        return Ignore
      }
      this.#c.misbehaved(from, err.message)
      return Reject
    }
  }

  async #suspicion (record: string): Promise<Verdict> {
    if (this.#hiveId === undefined) return Ignore
    const s = await openSuspicion(record, this.#hiveId)
    // From a member this node knows, about a member, fresh, and not too many from one member.
    if (s === undefined || !this.#c.isMember(s.by) || s.by === s.peer || !this.#allow(s.by)) return Ignore
    if (s.peer === this.#c.peerId) {
      const now = Date.now()
      if (now - this.#lastRefute >= REFUTE_EVERY_MS) {
        this.#lastRefute = now
        this.#c.refute()
      }
      return Accept
    }
    if (!this.#c.isMember(s.peer)) return Ignore
    this.#c.suspected(s.peer)
    return Accept
  }

  #allow (by: string): boolean {
    const now = Date.now()
    const w = this.#suspicions.get(by)
    if (w === undefined || now - w.at >= 60_000) {
      if (this.#suspicions.size >= 1000) this.#suspicions.clear()
      this.#suspicions.set(by, { at: now, count: 1 })
      return true
    }
    return ++w.count <= SUSPICIONS_PER_MINUTE
  }
}
