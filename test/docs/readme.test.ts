import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { SETTINGS } from '../../src/config/index.ts'

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

describe('README', () => {
  it('documents every setting with its config key, environment variable and flag', () => {
    for (const s of SETTINGS) {
      assert.ok(README.includes(`\`${s.key}\``), `README names the setting ${s.key}`)
      assert.ok(README.includes(`\`${s.env}\``), `README names ${s.env}`)
      if (s.flag !== undefined) assert.ok(README.includes(`\`${s.flag.spec}\``), `README names the flag ${s.flag.spec}`)
    }
  })

  it('gives the two commands a new user runs', () => {
    assert.match(README, /npm ci && npm start/)
    assert.match(README, /npm ci && npm test/)
  })
})
