import type { PrivateKey } from '@libp2p/interface'
import type { HiveRepository } from '../../store/index.ts'
import type { Logger } from '../../shared/logger.ts'
import { notAMember, removeNotAllowed, removeSelf } from '../errors.ts'
import type { AuditWrite } from '../refusal-log.ts'
import { signRemoval, verifyRemoval, mayRemove, type RemovalVerdict } from './removal.ts'
import { founderOf } from './credential.ts'

/** Removals waiting for their target's own chain (see `Removals.receive`), at most this many targets... */
const MAX_PENDING_TARGETS = 64
/** ...and this many removals each. */
const MAX_PENDING_PER_TARGET = 4
/** Chains of proven members remembered (the peer table's size). */
const MAX_PATHS = 1000

/** Why `hive remove` refuses, by verdict; the rule itself is `mayRemove`. */
const REFUSALS: Record<Exclude<RemovalVerdict, 'allowed' | 'self'>, string> = {
  founder: 'the founder of a hive cannot be removed: every member\'s credential ends in its signature',
  own_ancestor: 'a member cannot remove a member on its own invitation chain',
  not_ancestor: 'only the founder, or a member on the target\'s invitation chain (who invited it, or invited its inviter...), may remove it',
  unknown_chain: 'this node has not seen the target\'s credential since it started (it must have connected and proven itself here); only the founder may remove it without'
}

export interface Applied { peer: string, by: string, at: Date }

export interface RemovalsComponents {
  self: string
  key: PrivateKey
  repo: Pick<HiveRepository, 'addRemoval' | 'removals'>
  logger: Logger
  audit: AuditWrite
  /** This node's membership now, with its own chain's path (itself up to the founder). */
  membership (): { hiveId: string, chain: string[], path: string[] } | undefined
  /** Called once a removal is stored: the hive forgets the peer and tells the others (not `from`), or leaves if it is itself. */
  applied (r: Applied, record: string, from?: string): Promise<void>
  /** A member sent a removal that does not verify or breaks the rule. */
  misbehaved (peer: string, why: string): void
}

/**
 * The removals this node knows, and the rule on who may remove whom (`mayRemove`), checked both
 * where a removal is made (`hive remove`) and where one is received: a member does not apply a
 * removal that breaks it, whoever signed it. The rule needs the target's own chain: this keeps
 * the chain each member presented when it last proved itself here, and holds a removal of a
 * member not seen yet until that member proves itself (or until the removal comes again).
 */
export class Removals {
  readonly #c: RemovalsComponents
  readonly #removed = new Set<string>()
  readonly #records: string[] = []
  readonly #known = new Set<string>()
  /** Records refused already: a member sending one again costs a lookup, not a verification and a log line. */
  readonly #refused = new Set<string>()
  readonly #paths = new Map<string, string[]>()
  readonly #pending = new Map<string, Array<{ record: string, r: Applied & { byPath: string[] } }>>()

  constructor (c: RemovalsComponents) {
    this.#c = c
  }

  async load (): Promise<void> {
    for (const r of await this.#c.repo.removals()) {
      this.#removed.add(r.peerId)
      this.#remember(r.record)
    }
  }

  get removed (): ReadonlySet<string> {
    return this.#removed
  }

  /** Every removal record known, for members that connect later. */
  records (): string[] {
    return this.#records
  }

  /**
   * A member proved itself with this chain (its path, itself up to the founder). Applies the
   * removals of it that were waiting for its chain; true when it turned out to be removed.
   */
  async proved (peer: string, path: string[]): Promise<boolean> {
    if (this.#paths.size >= MAX_PATHS && !this.#paths.has(peer)) this.#paths.delete(this.#paths.keys().next().value!)
    this.#paths.set(peer, path)
    const waiting = this.#pending.get(peer)
    if (waiting === undefined) return false
    this.#pending.delete(peer)
    for (const { record, r } of waiting) {
      if (this.#verdict(r) === 'allowed') {
        await this.#apply(record, r)
        return true
      }
    }
    return false
  }

  /** This node just issued `peer` a credential: it is that peer's inviter, whether or not the peer has proven itself here yet. */
  issued (peer: string, path: string[]): void {
    if (this.#paths.has(peer)) return
    if (this.#paths.size >= MAX_PATHS) this.#paths.delete(this.#paths.keys().next().value!)
    this.#paths.set(peer, path)
  }

  /** This node left the hive (or was removed): what it learnt about members no longer holds. */
  forgetMembers (): void {
    this.#paths.clear()
    this.#pending.clear()
  }

  /** `hive remove <peer>`: checks the rule, signs the removal and applies it. */
  async remove (target: string): Promise<{ peer_id: string, removed: boolean }> {
    const m = this.#c.membership()
    if (m === undefined) throw notAMember()
    if (target === this.#c.self) throw removeSelf()
    if (this.#removed.has(target)) return { peer_id: target, removed: false }
    const verdict = this.#verdict({ peer: target, by: this.#c.self, byPath: m.path })
    if (verdict === 'self') throw removeSelf()
    if (verdict !== 'allowed') throw removeNotAllowed(target, REFUSALS[verdict])
    const record = await signRemoval(this.#c.key, m.hiveId, target, m.chain)
    await this.#apply(record, { peer: target, by: this.#c.self, at: new Date() })
    return { peer_id: target, removed: true }
  }

  /** Removal records a proven member sent. */
  async receive (records: unknown[], from: string): Promise<void> {
    for (const record of records) await this.receiveOne(record, from)
  }

  /**
   * One removal record from `from` (a proven member, or the member whose gossip relayed it):
   * `applied`, `held` (its target's chain is not known here yet), `known` (seen before, or not
   * for this node to judge now) or `refused` (it does not verify or breaks the removal rule).
   */
  async receiveOne (record: unknown, from: string): Promise<'applied' | 'held' | 'known' | 'refused'> {
    const m = this.#c.membership()
    if (m === undefined) return 'known'
    if (typeof record === 'string' && this.#known.has(record)) return 'known'
    if (typeof record === 'string' && this.#refused.has(record)) return 'refused'
    const r = await verifyRemoval(record, m.hiveId, this.#removed, (peer) => this.#removed.has(peer))
    if (r === 'skipped') return 'known'
    if (r === undefined) {
      this.#refuse(record)
      this.#c.misbehaved(from, 'a removal that does not verify')
      return 'refused'
    }
    const verdict = this.#verdict(r)
    if (verdict === 'allowed') {
      await this.#apply(record as string, r, from)
      return 'applied'
    }
    if (verdict === 'unknown_chain') {
      this.#hold(record as string, r)
      return 'held'
    }
    this.#refuse(record)
    this.#c.logger.warn({ peer_id: r.peer, by: r.by, from, rule: verdict }, 'refused a removal that breaks the removal rule')
    if (verdict !== 'not_ancestor') this.#c.misbehaved(from, `a removal that breaks the removal rule (${verdict})`)
    return 'refused'
  }

  #verdict (r: { peer: string, by: string, byPath: string[] }): RemovalVerdict {
    const m = this.#c.membership()
    if (m === undefined) return 'unknown_chain'
    const founder = founderOf(m.hiveId)
    const targetPath = r.peer === this.#c.self ? m.path : this.#paths.get(r.peer)
    return mayRemove({ founder, remover: r.by, removerPath: r.byPath, target: r.peer, targetPath })
  }

  #hold (record: string, r: Applied & { byPath: string[] }): void {
    let list = this.#pending.get(r.peer)
    if (list === undefined) {
      if (this.#pending.size >= MAX_PENDING_TARGETS) this.#pending.delete(this.#pending.keys().next().value!)
      list = []
      this.#pending.set(r.peer, list)
    }
    if (list.some((p) => p.record === record)) return
    if (list.length >= MAX_PENDING_PER_TARGET) list.shift()
    list.push({ record, r })
    this.#c.logger.info({ peer_id: r.peer, by: r.by }, 'a removal waits until its target proves itself here (its chain decides who may remove it)')
  }

  #refuse (record: unknown): void {
    if (typeof record !== 'string') return
    if (this.#refused.size >= MAX_PATHS) this.#refused.delete(this.#refused.keys().next().value!)
    this.#refused.add(record)
  }

  #remember (record: string): void {
    this.#records.push(record)
    this.#known.add(record)
  }

  async #apply (record: string, r: Applied, from?: string): Promise<void> {
    if (this.#removed.has(r.peer)) return
    const added = await this.#c.repo.addRemoval({ peerId: r.peer, removedBy: r.by, removedAt: r.at, record })
    this.#removed.add(r.peer)
    this.#remember(record)
    this.#paths.delete(r.peer)
    this.#pending.delete(r.peer)
    if (!added) return
    this.#c.audit('hive.member_removed', r.peer, { by: r.by })
    await this.#c.applied(r, record, from)
  }
}
