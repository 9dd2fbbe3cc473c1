import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { configurationReference } from '../../src/config/index.ts'
import { errorReference } from '../../src/shared/error-codes.ts'

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const CONFIGURATION = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
const ERRORS = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const API = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')

describe('README and docs', () => {
  it('docs/configuration.md is what the settings table makes (run `npm run docs` after changing a setting)', () => {
    assert.equal(CONFIGURATION, configurationReference())
  })

  it('docs/errors.md is what the error catalogue makes (run `npm run docs` after changing a code), and the API docs link it', () => {
    assert.equal(ERRORS, errorReference())
    assert.match(API, /\(errors\.md\)/)
  })

  it('the README links the configuration reference', () => {
    assert.match(README, /\(docs\/configuration\.md\)/)
  })

  it('gives the two commands a new user runs', () => {
    assert.match(README, /npm ci && npm start/)
    assert.match(README, /npm ci && npm test/)
  })
})
