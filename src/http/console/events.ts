import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MinuteCounts } from '../../shared/minute-tally.ts'
import { CONSOLE_CSP } from './layout.ts'

const KEEPALIVE_MS = 25_000
/** How often an open stream checks that its sign-in is still valid, and the per-minute counts. */
const RECHECK_MS = 5000
/**
 * Bytes waiting to be sent at most: a page that stops reading (a suspended laptop, a client
 * that never reads) has its stream closed instead of the node holding its backlog.
 */
const BACKLOG_LIMIT = 16 * 1024

export interface ChangeSource {
  changes (listener: () => void, onEnd: () => void): () => void
  perMinute (): MinuteCounts[]
  /** Whether the stream's sign-in is still valid. */
  live (): boolean
}

/** The per-minute counts as one value that changes when any of them does. */
function tallyOf (s: ChangeSource): string {
  const m = s.perMinute().at(-1)
  return m === undefined ? '' : `${m.minute}:${m.toolCalls}:${m.refused}`
}

/**
 * One console page's event stream, until the page goes away, its sign-in ends or the node
 * stops. Changes coalesce: however many arrive at once, one `change` event is sent, and none
 * while earlier bytes still wait for the page to read them.
 */
export async function serveChanges (req: IncomingMessage, res: ServerResponse, source: ChangeSource): Promise<void> {
  let ended = false
  let queued = false
  const open = (): boolean => !ended && !res.writableEnded && !res.destroyed
  // A write to a connection the page has gone from is not a fault of the node's.
  res.on('error', () => {})
  const send = (text: string): void => {
    if (!open()) return
    if (res.writableLength > BACKLOG_LIMIT) { res.destroy(); return }
    res.write(text)
  }
  const end = (): void => {
    if (!open()) return
    ended = true
    res.end('event: end\ndata: {}\n\n')
  }
  const change = (): void => {
    if (queued) return
    queued = true
    setImmediate(() => { queued = false; send('event: change\ndata: {}\n\n') })
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'content-security-policy': CONSOLE_CSP, ...(req.httpVersionMajor === 1 ? { connection: 'keep-alive' } : {}) })
  send(': edge-hive console\n\n')
  const unsubscribe = source.changes(change, end)
  const keepalive = setInterval(() => { send(': keepalive\n\n') }, KEEPALIVE_MS)
  // Tool calls and refusals are counted, not audited one by one: their chart is a change too.
  let counted = tallyOf(source)
  const recheck = setInterval(() => {
    if (!source.live()) { end(); return }
    const now = tallyOf(source)
    if (now !== counted) { counted = now; change() }
  }, RECHECK_MS)
  try {
    await new Promise<void>((resolve) => { res.once('close', resolve) })
  } finally {
    clearInterval(keepalive)
    clearInterval(recheck)
    unsubscribe()
  }
}
