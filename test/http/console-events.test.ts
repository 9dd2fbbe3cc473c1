// The console's live-update stream on a real HTTP/1.1 connection: however often the node ends
// it or announces changes afterwards, the page gets one end event and the process stays up
// (a write after the end used to raise an error nothing handled).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { serveChanges } from '../../src/http/console/events.ts'
import { MinuteTally } from '../../src/shared/minute-tally.ts'

describe('console event stream', () => {
  it('sends coalesced changes, one end event however often it is ended, and nothing after', async () => {
    const tally = new MinuteTally()
    let listener: (() => void) | undefined
    let ender: (() => void) | undefined
    let served: Promise<void> | undefined
    let subscribed = (): void => {}
    const ready = new Promise<void>((resolve) => { subscribed = resolve })
    const server = createServer((req, res) => {
      served = serveChanges(req, res, {
        changes: (l, onEnd) => { listener = l; ender = onEnd; subscribed(); return () => { listener = undefined } },
        perMinute: () => tally.recent(),
        live: () => true
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
    let text = ''
    socket.on('data', (d: Buffer) => { text += d.toString() })
    try {
      socket.write('GET /console/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n')
      await ready
      for (let i = 0; i < 50; i++) listener!()
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(text.split('event: change').length - 1, 1, 'fifty changes at once make one event')
      for (let i = 0; i < 3; i++) ender!()
      listener?.()
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(text.split('event: end').length - 1, 1)
      assert.ok(text.endsWith('event: end\ndata: {}\n\n\r\n0\r\n\r\n'), `nothing follows the end but the chunked terminator: ${JSON.stringify(text.slice(-80))}`)
      socket.end()
      await served
    } finally {
      socket.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
