// The authorization server replaces one method of oidc-provider's Client model,
// compareClientSecret, so that stored secrets can be hashes (src/auth/authorization-server.ts).
// These tests fail if the library renames the method, stops calling it for
// client_secret_basic/client_secret_post, or starts comparing secrets elsewhere: then the patch
// would silently stop applying, and a library upgrade must look at it again.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import Provider from 'oidc-provider'

const lib = join(dirname(createRequire(import.meta.url).resolve('oidc-provider/package.json')), 'lib')

describe('the oidc-provider method the authorization server replaces', () => {
  it('exists on the Client model as an instance method', () => {
    const provider = new Provider('https://issuer.example', {})
    assert.equal(typeof (provider.Client.prototype as unknown as { compareClientSecret?: unknown }).compareClientSecret, 'function')
  })

  it('is what the library\'s client authentication calls for shared secrets, and nothing else compares them', () => {
    const clientAuth = readFileSync(join(lib, 'shared', 'client_auth.js'), 'utf8')
    assert.match(clientAuth, /ctx\.oidc\.client\.compareClientSecret\(/)
    // No other comparison of a presented client_secret with the stored one.
    assert.doesNotMatch(clientAuth, /clientSecret\s*===|===\s*clientSecret|timingSafeEqual/)
  })
})
