import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ERROR_CODES, errorBody, type ErrorSpec } from '../../src/shared/error-codes.ts'
import { EdgeError, StartupError } from '../../src/shared/errors.ts'
import { printable } from '../../src/shared/text.ts'

describe('error catalogue', () => {
  it('gives every code an HTTP error status, an audience and words for the reference', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES as Record<string, ErrorSpec>)) {
      assert.match(code, /^[a-z][a-z0-9_]*$/, code)
      assert.ok(spec.status >= 400 && spec.status <= 599, `${code}: ${spec.status}`)
      assert.ok(spec.audience === 'client' || spec.audience === 'operator', code)
      assert.ok(spec.means.length > 10 && spec.means.endsWith('.'), code)
    }
  })

  it('an error takes its status, whether it is shown, and a fixed message from the catalogue', () => {
    const shown = new EdgeError('p2p_disabled')
    assert.deepEqual([shown.status, shown.expose, shown.message], [409, true, ERROR_CODES.p2p_disabled.message])
    const hidden = new StartupError('data_dir', 'data directory /srv/x is not writable')
    assert.deepEqual([hidden.status, hidden.expose], [500, false])
    assert.equal(new EdgeError('too_many_streams', 'full', { status: 503 }).status, 503)
    assert.deepEqual(errorBody('not_ready'), { error: 'not_ready', message: 'The node is starting or stopping.' })
  })

  it('makes text another party chose printable: no control or format characters, cut to length', () => {
    assert.equal(printable('busy\u001b[2J\r\nnow\u202e', 100), 'busy [2J  now ')
    assert.equal(printable('x'.repeat(600), 500).length, 500)
    assert.equal(printable('a\u2028b\u2029c\ud800', 10), 'a b c ')
    assert.equal(printable('😀'.repeat(5), 3), '😀😀…')
  })
})
