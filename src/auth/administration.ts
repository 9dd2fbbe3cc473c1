import type { AuditLog, ClientRepository, OAuthPayloadStore } from '../store/index.ts'
import { ClientRegistry } from './client-registry.ts'
import { Grants } from './grants.ts'
import { RegisteredClients } from './registered-clients.ts'
import type { RevocationList } from './revocation-list.ts'

export interface AdministrationComponents {
  clients: ClientRepository
  oauthPayloads: OAuthPayloadStore
  revocations: RevocationList
  audit: AuditLog
}

export interface AdministrationOptions {
  accessTokenTtlSeconds: number
  registeredClientTtlSeconds: number
  /** Told each client id that is revoked, so the resource server refuses its tokens at once. */
  onClientRevoked?: (clientId: string) => void
}

/**
 * What the operator administers, built the same way for a running node and for the CLI on a
 * stopped one: every client (theirs and the apps that registered themselves) and every grant.
 */
export function operatorAdministration (c: AdministrationComponents, options: AdministrationOptions): { registry: ClientRegistry, grants: Grants } {
  const grants = new Grants({ oauthPayloads: c.oauthPayloads, clients: c.clients, revocations: c.revocations, audit: c.audit }, options)
  const registered = new RegisteredClients({ oauthPayloads: c.oauthPayloads, grants, audit: c.audit }, options)
  const registry = new ClientRegistry({ clients: c.clients, audit: c.audit, registered }, options.onClientRevoked)
  return { registry, grants }
}
