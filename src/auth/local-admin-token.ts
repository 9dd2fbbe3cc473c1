import { randomBytes } from 'node:crypto'
import { SignJWT, importJWK } from 'jose'
import { ACCESS_TOKEN_ALG, type SigningKey } from './signing-key.ts'
import { SCOPES } from './scopes.ts'

/** The client id local admin tokens carry, so the audit log tells them apart. */
export const LOCAL_ADMIN_CLIENT_ID = 'edge-hive-cli'
const LIFETIME_S = 60

/**
 * A one-minute access token with every scope for the CLI on the node's own machine. Whoever can
 * read the data dir's signing key can already do anything the node can, so this gives the
 * operator at the console no power they did not have, and saves keeping an admin secret.
 */
export async function mintLocalAdminToken (key: SigningKey, issuer: string, audience: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({ client_id: LOCAL_ADMIN_CLIENT_ID, scope: SCOPES.join(' '), scopes: [...SCOPES] })
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, typ: 'at+jwt', kid: key.kid })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(LOCAL_ADMIN_CLIENT_ID)
    .setIssuedAt(now)
    .setExpirationTime(now + LIFETIME_S)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(await importJWK(key.privateJwk, ACCESS_TOKEN_ALG))
}
