// The console's sign-in sessions and the per-minute tally behind its chart, on their own, with
// the clock passed in: the idle and age limits are checked without waiting for them.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConsoleSessions } from '../../src/http/console/sessions.ts'
import { MinuteTally } from '../../src/shared/minute-tally.ts'

const T0 = 1_800_000_000_000

describe('console sessions', () => {
  const options = { idleMs: 15 * 60_000, maxAgeMs: 12 * 3_600_000, max: 3 }

  it('finds a session by its cookie value only, and the node keeps no cookie value', () => {
    const s = new ConsoleSessions(options)
    const { id, session } = s.open(T0)
    assert.match(id, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(s.find(id, T0), session)
    assert.equal(s.find(`${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`, T0), undefined, 'a cookie one character off is nobody')
    assert.equal(s.find(undefined, T0), undefined)
    assert.equal(s.find('x'.repeat(5000), T0), undefined)
    assert.notEqual(session.key, id, 'the session is named by a hash of its cookie')
    assert.ok(!JSON.stringify(session).includes(id))
  })

  it('ends a session idle for the idle time; use keeps it alive, a live refresh does not', () => {
    const s = new ConsoleSessions(options)
    const { id } = s.open(T0)
    assert.ok(s.find(id, T0 + options.idleMs - 1) !== undefined, 'used just before the idle time')
    const used = T0 + options.idleMs - 1
    assert.ok(s.find(id, used + options.idleMs - 1, false) !== undefined, 'a refresh does not end it')
    assert.equal(s.find(id, used + options.idleMs, false), undefined, 'refreshes alone did not keep it alive')
    assert.equal(s.find(id, used + 1), undefined, 'once ended it stays ended')
  })

  it('ends every session at its maximum age, however much it is used', () => {
    const s = new ConsoleSessions(options)
    const { id } = s.open(T0)
    let now = T0
    while (now + 60_000 < T0 + options.maxAgeMs) { now += 60_000; assert.ok(s.find(id, now) !== undefined) }
    assert.equal(s.find(id, T0 + options.maxAgeMs), undefined)
  })

  it('holds at most `max` sessions, ending the least recently used', () => {
    const s = new ConsoleSessions(options)
    const a = s.open(T0).id
    const b = s.open(T0 + 1).id
    const c = s.open(T0 + 2).id
    assert.ok(s.find(a, T0 + 3) !== undefined, 'a used again: b is now the least recent')
    const d = s.open(T0 + 4).id
    assert.equal(s.find(b, T0 + 5), undefined)
    for (const id of [a, c, d]) assert.ok(s.find(id, T0 + 5) !== undefined)
  })

  it('matches a form\'s CSRF token only when it is the session\'s own', () => {
    const s = new ConsoleSessions(options)
    const one = s.open(T0).session
    const two = s.open(T0).session
    assert.ok(ConsoleSessions.csrfMatches(one, one.csrf))
    assert.ok(!ConsoleSessions.csrfMatches(one, two.csrf))
    assert.ok(!ConsoleSessions.csrfMatches(one, undefined))
    assert.ok(!ConsoleSessions.csrfMatches(one, ''))
    assert.ok(!ConsoleSessions.csrfMatches(one, `${one.csrf}x`))
  })

  it('signs everyone out at once, and closes one session alone', () => {
    const s = new ConsoleSessions(options)
    const a = s.open(T0).id
    const b = s.open(T0).id
    s.close(a)
    assert.equal(s.find(a, T0), undefined)
    assert.ok(s.find(b, T0) !== undefined)
    s.clear()
    assert.equal(s.find(b, T0), undefined)
  })
})

describe('minute tally', () => {
  it('counts per minute, oldest first, with quiet minutes as zero and old minutes forgotten', () => {
    const t = new MinuteTally(5)
    const m0 = Math.floor(T0 / 60_000) * 60_000
    t.count('toolCalls', m0)
    t.count('toolCalls', m0 + 59_999)
    t.count('refused', m0 + 120_000)
    const r = t.recent(m0 + 120_000)
    assert.equal(r.length, 5)
    assert.deepEqual(r.map((m) => m.minute), [m0 - 120_000, m0 - 60_000, m0, m0 + 60_000, m0 + 120_000])
    assert.deepEqual(r.map((m) => [m.toolCalls, m.refused]), [[0, 0], [0, 0], [2, 0], [0, 0], [0, 1]])
    // Five minutes on, the slot of m0 is reused: its old counts must not show.
    t.count('toolCalls', m0 + 300_000)
    const later = t.recent(m0 + 300_000)
    assert.deepEqual(later.map((m) => m.toolCalls + m.refused), [0, 1, 0, 0, 1])
  })
})
