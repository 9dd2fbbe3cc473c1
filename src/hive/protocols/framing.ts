import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Connection, Stream } from '@libp2p/interface'
import type { HiveNet } from '../hive-service.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { EdgeError, messageOf } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'

/** Every hive protocol message is one length-prefixed JSON object of at most this many bytes. */
export const MAX_MESSAGE_BYTES = 64 * 1024
/** How long a peer gets to send its next message before the stream is dropped. */
export const READ_TIMEOUT_MS = 10_000

/** The peer broke a hive protocol: a frame too big, not JSON, missing fields, too slow. Counted against its trust. */
export class ProtocolViolation extends EdgeError {
  constructor (message: string) {
    super('protocol_violation', message)
  }
}

/** The stream closed, was reset or stayed silent past the timeout: not held against the peer. */
export class StreamEnded extends Error {
  readonly code = 'ERR_STREAM_ENDED'
}

/** JSON messages over a libp2p stream, each length-prefixed, size-limited and read with a timeout. */
export class JsonFrames {
  readonly stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>

  constructor (stream: Stream) {
    this.stream = stream
    this.#lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
  }

  async read (timeoutMs = READ_TIMEOUT_MS): Promise<Record<string, unknown>> {
    let bytes
    try {
      bytes = await this.#lp.read({ signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      const name = (err as { name?: string }).name ?? ''
      // Breaking the framing is the peer's doing; a stream that ends, is reset or goes quiet
      // is the network's or the machine's as often as not, and costs the peer no trust.
      if (/^Invalid(Data|Message)Length/.test(name)) throw new ProtocolViolation(`a frame over ${MAX_MESSAGE_BYTES} bytes, or a broken length prefix`)
      throw new StreamEnded(`the stream ended without a frame (${name || (err as Error).message})`)
    }
    let doc: unknown
    try {
      doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray()))
    } catch {
      throw new ProtocolViolation('a frame is not JSON')
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ProtocolViolation('a frame is not a JSON object')
    return doc as Record<string, unknown>
  }

  async write (doc: Record<string, unknown>): Promise<void> {
    await this.#lp.write(new TextEncoder().encode(JSON.stringify(doc)), { signal: AbortSignal.timeout(READ_TIMEOUT_MS) })
  }

  /** Several messages in one write: each a frame of its own, sent together (one encryption, one packet where they fit). */
  async writeAll (docs: Array<Record<string, unknown>>): Promise<void> {
    const encoder = new TextEncoder()
    await this.#lp.writeV(docs.map((d) => encoder.encode(JSON.stringify(d))), { signal: AbortSignal.timeout(READ_TIMEOUT_MS) })
  }

  async close (): Promise<void> {
    await this.stream.close({ signal: AbortSignal.timeout(READ_TIMEOUT_MS) }).catch(() => this.stream.abort(new Error('close timed out')))
  }

  abort (reason: string): void {
    this.stream.abort(new Error(reason))
  }
}

/** How long opening a stream to a peer may take. */
const OPEN_TIMEOUT_MS = 10_000

/**
 * Opens a stream of `protocol` to a connected peer and runs `write` on it. Failures are logged,
 * not thrown: what the hive sends this way is a courtesy the peer can do without, or learn again
 * later. A peer no longer connected is not dialled for it: everything sent this way goes to a
 * peer that just proved itself or spoke on a connection, and dialling one whose connection
 * closed meanwhile (a goodbye racing the close, measured: one dial in sixteen while a hive of 30
 * formed) only opened a connection the degree keeping closed again.
 */
export async function sendFrames (node: HiveNet | undefined, peer: string, protocol: string, write: (f: JsonFrames) => Promise<void>, log: Logger): Promise<void> {
  if (node === undefined) return
  try {
    const id = peerIdFromString(peer)
    if (!node.getConnections(id).some((c) => c.status === 'open')) {
      log.debug({ peer_id: peer, protocol }, 'not sent: the peer is no longer connected')
      return
    }
    const stream = await node.openStream(id, protocol, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), runOnLimitedConnection: true })
    const f = new JsonFrames(stream)
    await write(f).catch((err: unknown) => { f.abort(messageOf(err)); throw err })
  } catch (err) {
    log.debug({ peer_id: peer, protocol, err: messageOf(err) }, 'could not send to peer')
  }
}

/**
 * Runs one inbound protocol stream: framed and bounded, and a broken message counts against the
 * peer. With `trusted`, a peer that has not proven membership on its connection is refused
 * before anything is read: hive protocols tell a stranger nothing.
 */
export function serveFrames (stream: Stream, conn: Connection, run: (f: JsonFrames) => Promise<void>,
  o: { log: Logger, misbehaved (peer: string, why: string): void, trusted?: (peer: string) => boolean }): void {
  const peer = conn.remotePeer.toString()
  const f = new JsonFrames(stream)
  if (o.trusted !== undefined && !o.trusted(peer)) {
    o.log.debug({ peer_id: peer, protocol: stream.protocol }, 'refused a hive stream from a peer that has not proven membership')
    f.abort('not a proven member of this hive')
    return
  }
  run(f).catch((err: unknown) => {
    if (err instanceof ProtocolViolation) o.misbehaved(peer, err.message)
    else o.log.debug({ peer_id: peer, err: messageOf(err) }, 'hive stream failed')
    f.abort(messageOf(err))
  })
}
