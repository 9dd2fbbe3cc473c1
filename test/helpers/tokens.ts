import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, importJWK, type JWK, type JWTPayload } from 'jose'
import { request1, type Answer } from './https.ts'

/** Asks the node's token endpoint for a token with client credentials (HTTP Basic). */
export async function getToken (url: string, clientId: string, secret: string, params: Record<string, string> = {}): Promise<Answer> {
  return await request1(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString()
  })
}

/** The operator client that a node writes to its data dir on first start (no terminal). */
export function operatorClient (dataDir: string): { client_id: string, client_secret: string } {
  return JSON.parse(readFileSync(join(dataDir, 'operator-client.json'), 'utf8')) as { client_id: string, client_secret: string }
}

/**
 * Signs a token with the node's own key, as the test's forger: used to show that each claim
 * check holds on its own (a token correct but for one claim is refused for that claim).
 */
export async function signWithNodeKey (dataDir: string, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = JSON.parse(readFileSync(join(dataDir, 'oauth', 'signing-key.json'), 'utf8')) as JWK
  return await new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: jwk.kid, ...header }).sign(await importJWK(jwk, 'EdDSA'))
}

export function decodePayload (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}
