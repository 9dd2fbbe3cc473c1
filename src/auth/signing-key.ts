import { existsSync, readFileSync, statSync, chmodSync } from 'node:fs'
import { exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose'
import { StartupError, messageOf } from '../shared/errors.ts'
import { writeFileAtomic } from '../shared/files.ts'

/** The key the node signs access tokens with: Ed25519 (EdDSA), its own and apart from the node identity. */
export interface SigningKey {
  privateJwk: JWK
  publicJwk: JWK
  kid: string
}

export const ACCESS_TOKEN_ALG = 'EdDSA'

function publicOf (jwk: JWK): JWK {
  const { d: _d, ...pub } = jwk
  return pub
}

/**
 * Loads the token signing key, or makes one on first start (0600). Kept apart from the libp2p
 * identity key so that one key is not used for two purposes, and so it can be rotated alone.
 */
export async function loadOrCreateSigningKey (file: string): Promise<SigningKey> {
  if (existsSync(file)) {
    try {
      const jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') throw new Error('not an Ed25519 private JWK')
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
      return { privateJwk: jwk, publicJwk: publicOf(jwk), kid: jwk.kid }
    } catch (err) {
      throw new StartupError('signing_key',
        `token signing key ${file} cannot be read (${messageOf(err)}); restore it, or move it away to make a new one (tokens already issued then stop working)`,
        { cause: err })
    }
  }
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
  const jwk = await exportJWK(privateKey)
  const kid = await calculateJwkThumbprint(jwk)
  const full: JWK = { ...jwk, kid, alg: ACCESS_TOKEN_ALG, use: 'sig' }
  writeFileAtomic(file, JSON.stringify(full), 0o600)
  return { privateJwk: full, publicJwk: publicOf(full), kid }
}
