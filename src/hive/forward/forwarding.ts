import { serviceCapabilities, type Connection, type Startable, type Stream } from '@libp2p/interface'
import { HiveService, type HiveServiceComponents } from '../hive-service.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../../shared/logger.ts'
import { EdgeError, messageOf, type ErrorCode } from '../../shared/errors.ts'
import { JsonFrames, ProtocolViolation } from '../protocols/framing.ts'
import {
  FORWARD_PROTOCOL, RESPONSE_HEADERS, BodyTooLarge, pickHeaders, readBody, readChunk, readHead, readRequest, requestFrame, dataFrames,
  type ForwardRequest, type ForwardedCaller
} from './protocol.ts'
import { KeyedQuota } from './keyed-quota.ts'
import { nodeIdOf } from '../protocols/caps.ts'

/** While an answer is quiet (a notification stream), the serving member says it is still there this often. */
const KEEPALIVE_MS = 15_000
/** A forwarded answer silent this long (no data, no keep-alive) is taken for a member that went away. */
const IDLE_MS = 3 * KEEPALIVE_MS
/** How long a member waits for a caller's node to finish proving membership on a new connection. */
const PROOF_WAIT_MS = 5_000
/** Forward streams one connection may carry at once, each way, at most (each request is one stream). */
const MAX_STREAMS = 1024
/** Statuses whose answers have no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/** What a member reached through the hive is known as here. */
export interface KnownMember {
  peerId: string
  status: 'online' | 'offline' | 'untrusted'
  name?: string | undefined
}

export interface ForwardingComponents {
  /** This node's id: callers from here are said to come through it. */
  nodeId: string
  /** The members with this node id (removed members not among them): one, or none, or in a rare clash more. */
  members (nodeId: string): KnownMember[]
  /** Whether the peer proved membership on its current connection. */
  isTrusted (peerId: string): boolean
  /** Whether the peer is a member (proved before and not removed). */
  isMember (peerId: string): boolean
  /** Connects to a member and proves membership on the connection (the challenge). */
  reach (peerId: string): Promise<void>
  /** Answers a request that came through another member, with this node's own tools. */
  serve (request: ServedRequest, signal: AbortSignal): Promise<Response>
  /** A peer broke the protocol. */
  misbehaved (peerId: string, why: string): void
  audit (action: string, actor: string, target: string, outcome: 'success' | 'failure', detail: Record<string, unknown>): void
  logger: Logger
}

export interface ForwardingOptions {
  /** How long a member has to start answering. */
  timeoutMs: number
  /** Forwarded requests open at once per caller (client id), and per member. */
  perClient: number
  perMember: number
  /** The largest request body taken from another member. */
  maxBodyBytes: number
  /** The most a caller coming through the hive may use here (intersected with its own scopes). */
  scopes: readonly string[]
}

/** A request that came through another member, as this node serves it. */
export interface ServedRequest extends ForwardRequest {
  body: Uint8Array
  /** The peer id of the member it came through (proven on the connection; `viaNode` is derived from it). */
  viaPeer: string
  /** The scopes it may use here: its own, cut down to what this node grants hive callers. */
  granted: string[]
}

/** Forwarding as a libp2p service, for the host to start with libp2p's own (see P2PHost.start). */
export function forwardingService (c: ForwardingComponents, o: ForwardingOptions): (components: HiveServiceComponents) => HiveForwarding {
  return (components) => new HiveForwarding(c, o, components)
}

/** A request could not be forwarded: the status and words the caller gets. */
export class ForwardError extends EdgeError {}

/** How a member's refusal reads to the caller; a refusal of another kind is `member_refused`. */
const REFUSALS: Record<string, ErrorCode> = {
  not_member: 'member_not_member', forbidden: 'member_forbidden', busy: 'member_busy', too_large: 'member_too_large', token_expired: 'member_token_expired', stopping: 'member_stopping'
}

/**
 * Forwarding over the hive (`/edge-hive/forward/1.0.0`), both ends: `forward` sends an agent's
 * request to another member and returns that member's answer as it streams; the handler serves
 * requests from other members through `serve`, under this node's policy (`scopes`). Only proven
 * members forward and are forwarded to, one hop only: a request that arrives here is served
 * here, never sent on. Open requests are capped per caller and per member at both ends.
 * A libp2p service (made by forwardingService): `start` installs the handler, `stop` removes it
 * and ends what is open.
 */
export class HiveForwarding implements Startable {
  readonly #c: ForwardingComponents
  readonly #o: ForwardingOptions
  readonly #service: HiveService
  readonly #out: KeyedQuota
  readonly #in: KeyedQuota
  /** Streams open now, each way, and the member at the other end: removing a member cuts them. */
  readonly #open = new Map<Stream, string>()
  #stopped = false

  constructor (c: ForwardingComponents, o: ForwardingOptions, components: HiveServiceComponents) {
    this.#c = c
    this.#o = o
    this.#out = new KeyedQuota(o.perClient, o.perMember)
    this.#in = new KeyedQuota(o.perClient, o.perMember)
    const streams = Math.min(MAX_STREAMS, o.perMember)
    const options = { maxInboundStreams: streams, maxOutboundStreams: streams, runOnLimitedConnection: true }
    this.#service = new HiveService(components, {
      name: '@edge-hive/forward',
      protocols: [{ protocol: FORWARD_PROTOCOL, handler: (stream, conn) => { void this.#answer(stream, conn) }, options }],
      stopped: () => { for (const s of this.#open.keys()) s.abort(new Error('this node is stopping')) }
    })
  }

  // What libp2p knows this service by (see HiveService).
  get [Symbol.toStringTag] (): string { return this.#service[Symbol.toStringTag] }
  get [serviceCapabilities] (): string[] { return this.#service[serviceCapabilities] }

  async start (): Promise<void> {
    await this.#service.start()
  }

  /** Ends what is open; safe to call again (the node stops forwarding first, then libp2p stops its services). */
  async stop (): Promise<void> {
    this.#stopped = true
    await this.#service.stop()
  }

  /** Whether requests are open to or from the peer now (its connection should be kept). */
  busyWith (peerId: string): boolean {
    for (const peer of this.#open.values()) if (peer === peerId) return true
    return false
  }

  /** Cuts every request open to or from a member (it was removed), or all of them (this node left its hive). */
  hangUp (peerId?: string): void {
    for (const [s, peer] of this.#open) if (peerId === undefined || peer === peerId) s.abort(new Error('no longer a member of the hive'))
  }

  /**
   * Sends a request to the member with `nodeId` and returns its answer, the body streaming as it
   * comes. Throws ForwardError (404 not a member, 503 offline or unreachable, 429 too many open,
   * 504 no answer in time, or the member's refusal).
   */
  async forward (nodeId: string, request: Omit<ForwardRequest, 'caller' | 'viaNode'> & { body?: Uint8Array | undefined }, caller: ForwardedCaller, signal: AbortSignal): Promise<Response> {
    const found = this.#c.members(nodeId)
    if (found.length === 0) throw new ForwardError('unknown_node', `No member of this node's hive has the node id ${nodeId}.`)
    if (found.length > 1) {
      throw new ForwardError('ambiguous_node',
        `More than one member of this hive has the node id ${nodeId}; this node will not guess which one you mean. Its operator can remove the one that should not be there.`)
    }
    const member = found[0]!
    const name = member.name === undefined ? nodeId : `${member.name} (${nodeId})`
    if (member.status !== 'online') throw new ForwardError('member_offline', `Member ${name} is offline: this node has not heard from it lately.`)
    const place = this.#out.acquire(caller.clientId, member.peerId)
    if (!place.ok) {
      throw new ForwardError('too_many_forwarded', place.reason === 'client'
        ? 'This client has as many requests open through the hive as it may; wait for one to finish.'
        : `Too many requests are open to member ${name}; try again shortly.`)
    }
    const detail = { member: nodeId, target: request.target, method: request.method }
    let stream: Stream | undefined
    try {
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.#o.timeoutMs)])
      stream = await this.#streamTo(member.peerId, deadline, name)
      const f = new JsonFrames(stream)
      // The whole request in one write: head, body and end (measured: a frame per write was most of the hop's cost).
      await f.writeAll([requestFrame({ ...request, caller, viaNode: this.#c.nodeId }), ...dataFrames(request.body), { end: true }])
      const asked = Date.now()
      const head = await readHead(f, this.#o.timeoutMs).catch((err: unknown) => {
        if (signal.aborted || err instanceof ProtocolViolation) throw err
        // Silent until the timeout, or the stream ended early: a member of an earlier version,
        // which does not speak this protocol, ends it at once (the name is negotiated with the request).
        if (Date.now() - asked < this.#o.timeoutMs - 100) {
          throw new ForwardError('member_unreachable', `Member ${name} ended the request without an answer (it may run an earlier Edge Hive, without forwarding).`)
        }
        throw new ForwardError('member_timeout', `Member ${name} did not answer within ${Math.round(this.#o.timeoutMs / 1000)} s.`)
      })
      if ('refused' in head) throw new ForwardError(Object.hasOwn(REFUSALS, head.refused) ? REFUSALS[head.refused]! : 'member_refused', `Member ${name} refused: ${head.message}`)
      // Checked before the body is wired up: a header a Response refuses is the member's fault.
      let headers: Headers
      try { headers = new Headers(head.headers) } catch { throw new ProtocolViolation('a forward answer with a malformed header') }
      this.#c.audit('hive.forward', caller.clientId, nodeId, head.status < 400 ? 'success' : 'failure', { ...detail, status: head.status })
      if (NULL_BODY.has(head.status)) {
        place.release()
        await f.close()
        return new Response(null, { status: head.status, headers })
      }
      return new Response(this.#bodyOf(f, stream, member.peerId, signal, place.release), { status: head.status, headers })
    } catch (err) {
      place.release()
      stream?.abort(new Error('forward failed'))
      // The cause (addresses, libp2p's words) goes to the log, not to the caller.
      this.#c.logger.debug({ node_id: nodeId, err: messageOf(err) }, 'a request could not be forwarded')
      const e = err instanceof ForwardError
        ? err
        : err instanceof ProtocolViolation
          ? new ForwardError('member_broke_protocol', `Member ${name} answered with something this node cannot read.`)
          : new ForwardError('member_unreachable', `Member ${name} could not be reached now.`)
      this.#c.audit('hive.forward', caller.clientId, nodeId, 'failure', { ...detail, error: e.code })
      throw e
    }
  }

  /** A stream of the forward protocol to a member, over a connection on which it proved membership. */
  async #streamTo (peer: string, signal: AbortSignal, name: string): Promise<Stream> {
    if (this.#stopped) throw new ForwardError('not_ready', 'This node\'s libp2p host is starting or stopping.')
    if (!this.#c.isTrusted(peer)) {
      await this.#c.reach(peer)
      while (!this.#c.isTrusted(peer)) {
        if (signal.aborted) throw new ForwardError('member_unreachable', `Member ${name} could not be reached, or did not prove its membership in time.`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    // The protocol's name goes with the request's first bytes rather than a round trip before them.
    return await this.#service.net.openStream(peerIdFromString(peer), FORWARD_PROTOCOL, { signal, negotiateFully: false, runOnLimitedConnection: true })
  }

  /** The answer's body as a web stream: frames read as the reader asks, the stream closed when done or cancelled. */
  #bodyOf (f: JsonFrames, stream: Stream, peer: string, signal: AbortSignal, release: () => void): ReadableStream<Uint8Array> {
    this.#open.set(stream, peer)
    const done = (): void => { this.#open.delete(stream); release() }
    const onAbort = (): void => { stream.abort(new Error('the caller went away')); done() }
    signal.addEventListener('abort', onAbort, { once: true })
    return new ReadableStream<Uint8Array>({
      pull: async (ctrl) => {
        try {
          for (;;) {
            const chunk = await readChunk(f, IDLE_MS)
            if (chunk === undefined) {
              signal.removeEventListener('abort', onAbort)
              done()
              ctrl.close()
              await f.close()
              return
            }
            if (chunk.length > 0) { ctrl.enqueue(chunk); return }
          }
        } catch (err) {
          signal.removeEventListener('abort', onAbort)
          done()
          stream.abort(new Error('the answer broke off'))
          ctrl.error(err)
        }
      },
      cancel: () => { signal.removeEventListener('abort', onAbort); onAbort() }
    })
  }

  /** Serves one request from another member. */
  async #answer (stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString()
    const f = new JsonFrames(stream)
    const refuse = async (code: string, message: string): Promise<void> => {
      await f.write({ refused: code, message }).catch(() => undefined)
      await f.close()
    }
    if (this.#stopped) return await refuse('stopping', 'this member is stopping')
    if (!await this.#proven(peer)) {
      this.#c.logger.debug({ peer_id: peer }, 'refused a forwarded request from a peer that has not proven membership')
      return await refuse('not_member', 'only proven members of this hive may forward requests here')
    }
    let request: ForwardRequest
    try {
      request = await readRequest(f)
      // The member it came through is the peer proven on this connection, whatever it says.
      if (request.viaNode !== nodeIdOf(peer)) throw new ProtocolViolation('a forward request naming another member as the one it came through')
    } catch (err) {
      if (err instanceof ProtocolViolation) this.#c.misbehaved(peer, err.message)
      f.abort(messageOf(err))
      return
    }
    const caller = `${request.caller.clientId}@${request.viaNode}`
    const detail = { via: request.viaNode, via_peer: peer, target: request.target, method: request.method }
    if (request.caller.expiresAt * 1000 <= Date.now()) return await refuse('token_expired', 'the caller\'s access token has expired')
    if (this.#o.scopes.length === 0) {
      this.#c.audit('hive.call', caller, this.#c.nodeId, 'failure', { ...detail, error: 'forbidden' })
      return await refuse('forbidden', 'this member takes no calls from the hive (its operator has not allowed any scope)')
    }
    // A place is taken before the body is read, so a member cannot make this node hold many bodies at once.
    const place = this.#in.acquire(`${peer}/${request.caller.clientId}`, peer)
    if (!place.ok) return await refuse('busy', 'too many requests through the hive are open on this member; try again shortly')
    let body: Uint8Array
    try {
      body = await readBody(f, this.#o.maxBodyBytes)
    } catch (err) {
      place.release()
      if (err instanceof BodyTooLarge) return await refuse('too_large', err.message)
      if (err instanceof ProtocolViolation) this.#c.misbehaved(peer, err.message)
      f.abort(messageOf(err))
      return
    }
    const granted = request.caller.scopes.filter((s) => this.#o.scopes.includes(s))
    const abort = new AbortController()
    if (stream.status !== 'open') abort.abort()
    else stream.addEventListener('close', () => abort.abort(), { once: true })
    this.#open.set(stream, peer)
    let status = 0
    try {
      const response = await this.#c.serve({ ...request, body, viaPeer: peer, granted }, abort.signal)
      status = response.status
      await this.#pump(f, response, { status, headers: pickHeaders(response.headers, RESPONSE_HEADERS) })
      await f.close()
    } catch (err) {
      this.#c.logger.debug({ peer_id: peer, err: messageOf(err) }, 'a forwarded request ended early')
      await f.write({ error: 'the answer could not be completed' }).catch(() => undefined)
      f.abort(messageOf(err))
    } finally {
      place.release()
      this.#open.delete(stream)
      this.#c.audit('hive.call', caller, this.#c.nodeId, status > 0 && status < 400 ? 'success' : 'failure', { ...detail, scopes: granted, status })
    }
  }

  /** Whether a peer may forward here: proven on its connection, or a member whose proof is under way. */
  async #proven (peer: string): Promise<boolean> {
    const until = Date.now() + PROOF_WAIT_MS
    while (!this.#c.isTrusted(peer)) {
      // The challenge runs both ways at once: the peer may have seen this node's proof before
      // this node saw its own. Wait for it only for a peer known to be a member.
      if (!this.#c.isMember(peer) || Date.now() >= until || this.#stopped) return false
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return true
  }

  /**
   * Sends the answer: its head, then its body in frames as it comes, with a keep-alive while it is
   * quiet. What is ready together goes in one write (the head with the first bytes, the last
   * bytes with the end): a short answer is one write.
   */
  async #pump (f: JsonFrames, response: Response, head: Record<string, unknown>): Promise<void> {
    if (response.body === null) return await f.writeAll([head, { end: true }])
    const reader = response.body.getReader()
    let pending: Array<Record<string, unknown>> = [head]
    try {
      let next = reader.read()
      for (;;) {
        // What is there by the next turn of the event loop goes with what is pending; then it is
        // sent, and a quiet answer gets a keep-alive now and then.
        let r = await Promise.race([next, new Promise<'later'>((resolve) => setImmediate(() => resolve('later')))])
        if (r === 'later') {
          if (pending.length > 0) { await f.writeAll(pending); pending = [] }
          let timer: NodeJS.Timeout | undefined
          const quiet = new Promise<'quiet'>((resolve) => { timer = setTimeout(() => resolve('quiet'), KEEPALIVE_MS) })
          const q = await Promise.race([next, quiet]).finally(() => clearTimeout(timer))
          if (q === 'quiet') { await f.write({ ping: true }); continue }
          r = q
        }
        if (r.done) break
        pending.push(...dataFrames(r.value))
        next = reader.read()
      }
      await f.writeAll([...pending, { end: true }])
    } finally {
      await reader.cancel().catch(() => undefined)
    }
  }
}
