import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Goodbyes } from '../../src/hive/goodbyes.ts'

/**
 * A Goodbyes whose suspicions are recorded. Each case closes a control peer (no goodbye, not
 * reconnected) together with the peer under test: the checks run after the same delay, in order,
 * so once the control is suspected the peer's fate is decided too, however slow the machine.
 */
function harness (): {
  byes: Goodbyes
  suspected: string[]
  connected: Set<string>
  stopped: { now: boolean, asked: number }
  decided: () => Promise<void>
  until: (ok: () => boolean) => Promise<void>
} {
  const suspected: string[] = []
  const connected = new Set<string>()
  const stopped = { now: false, asked: 0 }
  const byes = new Goodbyes({
    connected: (p) => connected.has(p),
    suspect: (p) => { suspected.push(p) },
    stopped: () => { stopped.asked++; return stopped.now }
  })
  // The checks' timers do not hold the process open; this does, while a case waits.
  const until = async (ok: () => boolean): Promise<void> => {
    await new Promise<void>((resolve) => {
      const t = setInterval(() => { if (ok()) { clearInterval(t); resolve() } }, 20)
    })
  }
  const decided = async (): Promise<void> => {
    const before = suspected.filter((p) => p === 'control').length
    byes.closed('control')
    await until(() => suspected.filter((p) => p === 'control').length > before)
  }
  return { byes, suspected, connected, stopped, decided, until }
}

describe('goodbyes: which closed member connections the hive is told about', () => {
  it('a member whose last connection closed without a goodbye is suspected', async () => {
    const h = harness()
    h.byes.closed('member')
    await h.decided()
    assert.deepEqual(h.suspected, ['member', 'control'])
  })

  it('a member that said goodbye is not, even when the goodbye is read just after the close', async () => {
    const h = harness()
    h.byes.closed('member')
    h.byes.saw('member')
    await h.decided()
    assert.deepEqual(h.suspected, ['control'])
  })

  it('a connection this node closed itself (it said goodbye first) is no reason to suspect', async () => {
    const h = harness()
    h.byes.saw('trimmed')
    h.byes.closed('trimmed')
    await h.decided()
    assert.deepEqual(h.suspected, ['control'])
  })

  it('a member connected again at once is not suspected', async () => {
    const h = harness()
    h.byes.closed('member')
    h.connected.add('member')
    await h.decided()
    assert.deepEqual(h.suspected, ['control'])
  })

  it('a goodbye counts once: the next close without one is suspected', async () => {
    const h = harness()
    h.byes.saw('member')
    h.byes.closed('member')
    await h.decided()
    h.byes.closed('member')
    await h.decided()
    assert.deepEqual(h.suspected, ['control', 'member', 'control'])
  })

  it('a node that is stopping suspects nobody', async () => {
    const h = harness()
    h.byes.closed('member')
    h.stopped.now = true
    // closed() asked once; wait until the check after the delay has asked too.
    await h.until(() => h.stopped.asked >= 2)
    assert.deepEqual(h.suspected, [])
  })
})
