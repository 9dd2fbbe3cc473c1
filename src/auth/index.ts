export { SCOPES, isScope, type Scope } from './scopes.ts'
export { newClientId, newClientSecret, hashClientSecret, secretMatches } from './secrets.ts'
export { loadOrCreateSigningKey, ACCESS_TOKEN_ALG, type SigningKey } from './signing-key.ts'
export { ClientRegistry, type ClientView, type NewClient } from './client-registry.ts'
export { Grants, type GrantView } from './grants.ts'
export { operatorAdministration } from './administration.ts'
export { ClientRegistryError } from './errors.ts'
export { RevocationList } from './revocation-list.ts'
export { AccessTokenVerifier, grantRevocationKey, type AccessIdentity, type VerifyResult } from './token-verifier.ts'
export { TokenWatcher, type TokenEnd } from './token-watcher.ts'
export {
  AuthorizationServer, OAUTH_PATH_PREFIX, TOKEN_PATH, AUTHORIZATION_SERVER_METADATA_PATH, TOKEN_ENDPOINT_AUTH_METHODS,
  OPERATOR_ACCOUNT_ID, INTERACTION_PATH, DEVICE_VERIFICATION_PATH,
  type AuthorizationServerOptions, type AuthorizationPages, type InteractionView
} from './authorization-server.ts'
export { mintLocalAdminToken, LOCAL_ADMIN_CLIENT_ID } from './local-admin-token.ts'
export { OperatorAccount, hashPassword, checkPassword, MIN_PASSWORD_LENGTH, type SignInOutcome } from './operator-account.ts'
export { DEFAULT_SIGN_IN_GUARD, type SignInGuardOptions, type SignInSource, type Lock } from './sign-in-guard.ts'
export { RefusalAudit, type RefusalAuditOptions } from './refusal-audit.ts'
