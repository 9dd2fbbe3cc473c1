export type {
  Store, StoreOptions, AuditLog, AuditEntry, AuditQuery, AuditOutcome, ClientRecord, ClientRepository, ClientAuthMethod, OAuthPayloadStore, RevokedToken, RevocationRepository,
  HiveMembership, InvitationRecord, InvitationUse, MemberRemoval, HiveRepository, PeerStatus, PeerStats, PeerRecord, PeerRepository, OperatorAccount, OperatorRepository
} from './types.ts'
export { openSurrealStore as openStore } from './surreal/surreal-store.ts'
export { StoreOpenError } from './errors.ts'
export { AuditFeed } from './audit-feed.ts'
