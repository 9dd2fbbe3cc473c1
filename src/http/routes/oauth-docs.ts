import { object } from '../schemas.ts'

// What the OpenAPI document says of the authorization server's endpoints: oidc-provider reads
// and checks the requests, so these schemas document and never validate.

export const oauthError = { type: 'object', description: 'An OAuth error (RFC 6749 §5.2).', properties: { error: { type: 'string' }, error_description: { type: 'string' } } }
const tokenAnswer = object('RFC 6749 §5.1: access_token (an RFC 9068 JWT whose aud is the node\'s MCP URL), token_type Bearer, expires_in, scope.')
export const tokenRequest = {
  type: 'object',
  required: ['grant_type'],
  properties: {
    grant_type: { type: 'string', enum: ['client_credentials'] },
    scope: { type: 'string', description: 'Space-separated scopes; the client gets the part of them it was registered with (all of them when absent), and the answer\'s `scope` says which.' },
    resource: { type: 'string', description: 'RFC 8707: the node\'s MCP URL (the only resource).' },
    client_id: { type: 'string' },
    client_secret: { type: 'string', description: 'With client_secret_post; prefer HTTP Basic (client_secret_basic).' },
    client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'] },
    client_assertion: { type: 'string', description: 'RFC 7523: a JWT signed with the client\'s registered key (private_key_jwt).' }
  }
}
export const tokenResponses = { 200: { description: 'A token.', ...tokenAnswer }, 400: oauthError, 401: oauthError, 429: oauthError }
/** The authorization server's own endpoints, as documentation: oidc-provider reads and checks the requests. */
export const PROVIDER_ENDPOINTS = [
  { method: 'POST', path: 'token', summary: 'Token endpoint (client credentials; RFC 6749 §4.4, client auth: Basic, post or RFC 7523 private_key_jwt)', body: tokenRequest, response: tokenResponses },
  {
    method: 'POST', path: 'revoke', summary: 'Revoke a token (RFC 7009)',
    body: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, token_type_hint: { type: 'string' } } },
    response: { 200: { description: 'Revoked, or unknown (RFC 7009 §2.2).' }, 401: oauthError }
  },
  {
    method: 'POST', path: 'introspect', summary: 'Introspect a token (RFC 7662)',
    body: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, token_type_hint: { type: 'string' } } },
    response: { 200: { description: '`{ active, ... }`', ...object('RFC 7662 §2.2') }, 401: oauthError }
  },
  {
    method: 'POST', path: 'register', consumes: ['application/json'], summary: 'Dynamic client registration (RFC 7591): apps register themselves; the operator grants scopes at consent',
    body: object(
      'RFC 7591 §2 client metadata: client_name, redirect_uris (https, or http on loopback), grant_types (authorization_code, refresh_token, device_code; not client_credentials), token_endpoint_auth_method (none for public apps)'
    ),
    response: { 201: { description: 'Registered.', ...object('RFC 7591 §3.2.1: client_id, and client_secret for confidential clients') }, 400: oauthError }
  },
  {
    method: 'POST', path: 'device/auth', summary: 'Device authorization (RFC 8628): a device or CLI asks for a user code',
    body: { type: 'object', required: ['client_id'], properties: { client_id: { type: 'string' }, scope: { type: 'string' }, resource: { type: 'string' } } },
    response: { 200: { description: 'device_code, user_code, verification_uri, expires_in, interval', ...object('RFC 8628 §3.2') }, 400: oauthError, 401: oauthError }
  },
  { method: 'GET', path: 'jwks', summary: 'The public key that signs access tokens (JWK Set)', response: { 200: { description: 'JWK Set', ...object('RFC 7517 JWK Set') } } },
  { method: 'GET', path: 'authorize', summary: 'Authorization endpoint (answers with OAuth errors until interactive sign-in exists)', response: { 400: oauthError } }
] as const
