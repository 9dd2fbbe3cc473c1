import type { ClientView, GrantView, NewClient } from '../../auth/index.ts'
import type { MinuteCounts } from '../../shared/minute-tally.ts'
import type { SignInAnswer } from '../routes/interaction.ts'
import type { ConsoleMember } from './views-hive.ts'
import type { ActivityEntry } from './views.ts'

/**
 * What the console needs from the node: its own services (registry, grants, hive, audit), so
 * the console applies their rules rather than a copy of them.
 */
export interface ConsoleComponents {
  /** The operator password check, audited and locked out as on the approval pages. */
  signIn (password: string, from: { address: string, browser?: string | undefined }): Promise<SignInAnswer>
  operatorSet (): Promise<boolean>
  /** Status facts and the settings in effect (secrets left out), as label and value. */
  node (): { facts: Array<[string, string]>, settings: Array<[string, string]>, tokenUrl: string }
  /** Undefined when the node runs without its libp2p host. */
  hive (): ConsoleHive | undefined
  clients: {
    list (): Promise<ClientView[]>
    add (input: NewClient, actor: string): Promise<{ client: ClientView, secret?: string }>
    get (clientId: string): Promise<ClientView>
    revoke (clientId: string, actor: string): Promise<ClientView>
    rotateSecret (clientId: string, actor: string): Promise<{ client: ClientView, secret: string }>
  }
  grants (): Promise<GrantView[]>
  revokeGrant (grantId: string, actor: string): Promise<boolean>
  /** The newest audit entries, newest first. */
  activity (limit: number): Promise<ActivityEntry[]>
  perMinute (): MinuteCounts[]
  /** Something the console shows changed (a peer, an audit entry); `onEnd` when the node stops. */
  changes (listener: () => void, onEnd: () => void): () => void
}

export interface ConsoleHive {
  hiveId: string | undefined
  /** Joining with the start's invitation, not yet a member. */
  joining: boolean
  members (): ConsoleMember[]
  init (): Promise<unknown>
  invite (o: { ttlMs: number, uses: number }): Promise<{ token: string, expires_at: string, uses: number }>
  remove (peerId: string): Promise<{ removed: boolean }>
}

export interface ConsoleOptions {
  nodeName: string
  /** Names the session cookie (one per node: cookies do not tell ports apart). */
  nodeId: string
  /** Keys the sign-in form's token (the session's forms carry the session's own). */
  csrfKey: Buffer
  idleMs: number
  signInRateLimit: number
  /** Requests per window per address without a session. */
  pageRateLimit: number
  /** Requests per window per signed-in session. */
  sessionRateLimit: number
  rateLimitWindowMs: number
  trustedBrowserMs: number
  /** The command people type (`edge-hive` or `npx edge-hive`), for the commands the pages show. */
  cli: string
}
