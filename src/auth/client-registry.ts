import type { ClientRecord, ClientRepository, AuditLog } from '../store/index.ts'
import { ClientRegistryError } from './errors.ts'
import { isScope, SCOPES, type Scope } from './scopes.ts'
import { hashClientSecret, newClientId, newClientSecret } from './secrets.ts'
import type { RegisteredClients } from './registered-clients.ts'

const MAX_CLIENTS = 10_000
const NAME = /^[^\p{Cc}]{1,100}$/u
const AGENT = /^[\w.+-]{1,64}$/

/** A client as shown to operators: never the secret, nor its hash. */
export interface ClientView {
  client_id: string
  name: string
  /** For an app that registered itself: the scopes its grants hold (what the operator approved). */
  scopes: string[]
  auth_method: ClientRecord['authMethod'] | 'client_secret_post' | 'none'
  /** `operator` (edge-hive clients add) or `itself` (dynamic registration, RFC 7591). */
  registered_by: 'operator' | 'itself'
  agent_type?: string
  agent_version?: string
  created_at: string
  created_by?: string
  revoked_at?: string
  secret_rotated_at?: string
  status: 'active' | 'revoked'
}

export interface NewClient {
  name: string
  scopes: string[]
  agentType?: string | undefined
  agentVersion?: string | undefined
  /** Public keys: the client authenticates with private_key_jwt instead of a secret. */
  jwks?: { keys: Array<Record<string, unknown>> } | undefined
}

export interface RegistryComponents {
  clients: ClientRepository
  audit: AuditLog
  /** Apps that registered themselves: listed, shown and revoked here too. */
  registered?: RegisteredClients | undefined
}

export function viewOf (c: ClientRecord): ClientView {
  const v: ClientView = {
    client_id: c.clientId, name: c.name, scopes: c.scopes, auth_method: c.authMethod,
    created_at: c.createdAt.toISOString(), registered_by: 'operator', status: c.revokedAt === undefined ? 'active' : 'revoked'
  }
  if (c.agentType !== undefined) v.agent_type = c.agentType
  if (c.agentVersion !== undefined) v.agent_version = c.agentVersion
  if (c.createdBy !== undefined) v.created_by = c.createdBy
  if (c.revokedAt !== undefined) v.revoked_at = c.revokedAt.toISOString()
  if (c.secretRotatedAt !== undefined) v.secret_rotated_at = c.secretRotatedAt.toISOString()
  return v
}

function checkJwks (jwks: unknown): NewClient['jwks'] {
  const keys = (jwks as { keys?: unknown })?.keys
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 10) {
    throw new ClientRegistryError('invalid_client_metadata', 'jwks must be a JSON Web Key Set with 1 to 10 public keys.')
  }
  for (const k of keys as Array<Record<string, unknown>>) {
    if (typeof k !== 'object' || k === null || typeof k.kty !== 'string') {
      throw new ClientRegistryError('invalid_client_metadata', 'Each key in jwks needs a kty.')
    }
    // A private part here would mean the operator is about to hand the node a private key.
    if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((f) => f in k)) {
      throw new ClientRegistryError('invalid_client_metadata', 'jwks must hold public keys only; this one has a private part.')
    }
  }
  return { keys: keys as Array<Record<string, unknown>> }
}

/**
 * The node's registered agents: adding, listing, revoking, rotating secrets. Every change is
 * audited. Secrets are returned once, at creation or rotation, and stored only as a hash. Apps
 * that registered themselves are listed, shown and revoked here as well, so the operator can
 * revoke any client.
 */
export class ClientRegistry {
  readonly #c: RegistryComponents
  readonly #onRevoked: (clientId: string) => void

  constructor (components: RegistryComponents, onRevoked: (clientId: string) => void = () => undefined) {
    this.#c = components
    this.#onRevoked = onRevoked
  }

  async add (input: NewClient, actor: string): Promise<{ client: ClientView, secret?: string }> {
    const name = String(input.name ?? '').trim()
    if (!NAME.test(name)) throw new ClientRegistryError('invalid_client_metadata', 'name must be 1 to 100 characters without control characters.')
    const scopes = [...new Set(input.scopes)]
    const unknown = scopes.filter((s) => !isScope(s))
    if (unknown.length > 0) throw new ClientRegistryError('invalid_scope', `Unknown scope ${unknown.join(', ')}; scopes are ${SCOPES.join(', ')}.`)
    if (scopes.length === 0) throw new ClientRegistryError('invalid_scope', `A client needs at least one scope of ${SCOPES.join(', ')}.`)
    for (const [field, value] of [['agent_type', input.agentType], ['agent_version', input.agentVersion]] as const) {
      if (value !== undefined && !AGENT.test(value)) throw new ClientRegistryError('invalid_client_metadata', `${field} must be 1 to 64 letters, digits or . _ + -.`)
    }
    if (await this.#c.clients.count() >= MAX_CLIENTS) throw new ClientRegistryError('too_many_clients', `This node holds ${MAX_CLIENTS} clients already; revoke some first.`)
    const jwks = input.jwks === undefined ? undefined : checkJwks(input.jwks)
    const secret = jwks === undefined ? newClientSecret() : undefined
    const record: ClientRecord = {
      clientId: newClientId(),
      name,
      scopes: SCOPES.filter((s) => scopes.includes(s)),
      authMethod: jwks === undefined ? 'client_secret_basic' : 'private_key_jwt',
      secretHash: secret === undefined ? undefined : hashClientSecret(secret),
      jwks,
      agentType: input.agentType,
      agentVersion: input.agentVersion,
      createdAt: new Date(),
      createdBy: actor
    }
    await this.#c.clients.create(record)
    await this.#c.audit.append({ actor, action: 'client.added', target: record.clientId, outcome: 'success', detail: { name, scopes: record.scopes, auth_method: record.authMethod } })
    return secret === undefined ? { client: viewOf(record) } : { client: viewOf(record), secret }
  }

  /** The operator's clients, oldest first, then the apps that registered themselves. */
  async list (): Promise<ClientView[]> {
    return [...(await this.#c.clients.list(MAX_CLIENTS)).map(viewOf), ...await this.#c.registered?.list() ?? []]
  }

  async get (clientId: string): Promise<ClientView> {
    const c = await this.#c.clients.get(clientId)
    if (c !== undefined) return viewOf(c)
    const registered = await this.#c.registered?.get(clientId)
    if (registered === undefined) throw unknownClient(clientId)
    return registered
  }

  /**
   * Revokes a client: it gets no new token, and its live tokens stop working. For an app that
   * registered itself, its grants end too (their refresh tokens go).
   */
  async revoke (clientId: string, actor: string): Promise<ClientView> {
    const c = await this.#c.clients.get(clientId)
    if (c === undefined) {
      const registered = await this.#c.registered?.revoke(clientId, actor)
      if (registered === undefined) throw unknownClient(clientId)
      if (registered.changed) this.#onRevoked(clientId)
      return registered.view
    }
    if (c.revokedAt !== undefined) return viewOf(c)
    const updated = await this.#c.clients.update(clientId, { revokedAt: new Date() })
    this.#onRevoked(clientId)
    await this.#c.audit.append({ actor, action: 'client.revoked', target: clientId, outcome: 'success' })
    return viewOf(updated ?? c)
  }

  /** Gives a secret client a new secret; the old one stops working at once. */
  async rotateSecret (clientId: string, actor: string): Promise<{ client: ClientView, secret: string }> {
    const c = await this.#c.clients.get(clientId)
    if (c === undefined) {
      if (await this.#c.registered?.get(clientId) !== undefined) {
        throw new ClientRegistryError('self_registered', `Client ${clientId} registered itself and keeps its own secret; revoke it instead.`)
      }
      throw unknownClient(clientId)
    }
    if (c.revokedAt !== undefined) throw new ClientRegistryError('client_revoked', `Client ${clientId} is revoked; add a new one instead.`)
    if (c.authMethod !== 'client_secret_basic') throw new ClientRegistryError('no_secret', `Client ${clientId} authenticates with its keys (private_key_jwt) and has no secret.`)
    const secret = newClientSecret()
    const updated = await this.#c.clients.update(clientId, { secretHash: hashClientSecret(secret), secretRotatedAt: new Date() })
    await this.#c.audit.append({ actor, action: 'client.secret_rotated', target: clientId, outcome: 'success' })
    return { client: viewOf(updated ?? c), secret }
  }

  /** Ids of revoked clients, to refuse their tokens without a lookup. */
  async revokedIds (): Promise<string[]> {
    const own = (await this.#c.clients.list(MAX_CLIENTS)).filter((c) => c.revokedAt !== undefined).map((c) => c.clientId)
    return [...own, ...await this.#c.registered?.revokedIds() ?? []]
  }
}

function unknownClient (clientId: string): ClientRegistryError {
  return new ClientRegistryError('unknown_client', `No client ${clientId} is registered here.`)
}

export type { Scope }
