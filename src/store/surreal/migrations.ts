/**
 * The store's schema, as numbered steps applied in order at start. A step that has shipped is
 * never edited: change the schema by adding a step. Applied versions are recorded in the
 * `schema_migration` table, in the same transaction as the step itself.
 */
export interface Migration {
  version: number
  name: string
  surql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit log',
    surql: `
      DEFINE TABLE audit SCHEMAFULL;
      DEFINE FIELD at ON audit TYPE datetime;
      DEFINE FIELD actor ON audit TYPE string;
      DEFINE FIELD action ON audit TYPE string;
      DEFINE FIELD target ON audit TYPE option<string>;
      DEFINE FIELD source ON audit TYPE option<string>;
      DEFINE FIELD outcome ON audit TYPE string ASSERT $value IN ['success', 'failure'];
      DEFINE FIELD detail ON audit TYPE option<object> FLEXIBLE;
      DEFINE INDEX audit_at ON audit FIELDS at;
    `
  },
  {
    version: 2,
    name: 'oauth clients, provider payloads, revoked tokens',
    surql: `
      DEFINE TABLE oauth_client SCHEMAFULL;
      DEFINE FIELD name ON oauth_client TYPE string;
      DEFINE FIELD scopes ON oauth_client TYPE array<string>;
      DEFINE FIELD auth_method ON oauth_client TYPE string ASSERT $value IN ['client_secret_basic', 'private_key_jwt'];
      DEFINE FIELD secret_hash ON oauth_client TYPE option<string>;
      DEFINE FIELD jwks ON oauth_client TYPE option<object> FLEXIBLE;
      DEFINE FIELD agent_type ON oauth_client TYPE option<string>;
      DEFINE FIELD agent_version ON oauth_client TYPE option<string>;
      DEFINE FIELD created_at ON oauth_client TYPE datetime;
      DEFINE FIELD created_by ON oauth_client TYPE option<string>;
      DEFINE FIELD revoked_at ON oauth_client TYPE option<datetime>;
      DEFINE FIELD secret_rotated_at ON oauth_client TYPE option<datetime>;

      DEFINE TABLE oauth_payload SCHEMAFULL;
      DEFINE FIELD model ON oauth_payload TYPE string;
      DEFINE FIELD payload ON oauth_payload TYPE object FLEXIBLE;
      DEFINE FIELD expires_at ON oauth_payload TYPE option<datetime>;
      DEFINE FIELD grant_id ON oauth_payload TYPE option<string>;
      DEFINE FIELD user_code ON oauth_payload TYPE option<string>;
      DEFINE FIELD uid ON oauth_payload TYPE option<string>;
      DEFINE INDEX oauth_payload_grant ON oauth_payload FIELDS grant_id;
      DEFINE INDEX oauth_payload_user_code ON oauth_payload FIELDS user_code;
      DEFINE INDEX oauth_payload_uid ON oauth_payload FIELDS uid;
      DEFINE INDEX oauth_payload_expiry ON oauth_payload FIELDS expires_at;

      DEFINE TABLE revoked_token SCHEMAFULL;
      DEFINE FIELD client_id ON revoked_token TYPE string;
      DEFINE FIELD expires_at ON revoked_token TYPE datetime;
      DEFINE INDEX revoked_token_expiry ON revoked_token FIELDS expires_at;
    `
  },
  {
    version: 3,
    name: 'hive membership, invitations, removals, peer table',
    surql: `
      DEFINE TABLE hive_membership SCHEMAFULL;
      DEFINE FIELD hive_id ON hive_membership TYPE string;
      DEFINE FIELD chain ON hive_membership TYPE array<string>;
      DEFINE FIELD joined_at ON hive_membership TYPE datetime;

      DEFINE TABLE hive_invitation SCHEMAFULL;
      DEFINE FIELD secret_hash ON hive_invitation TYPE string;
      DEFINE FIELD uses_left ON hive_invitation TYPE int;
      DEFINE FIELD expires_at ON hive_invitation TYPE datetime;
      DEFINE FIELD created_at ON hive_invitation TYPE datetime;

      DEFINE TABLE hive_removal SCHEMAFULL;
      DEFINE FIELD removed_by ON hive_removal TYPE string;
      DEFINE FIELD removed_at ON hive_removal TYPE datetime;
      DEFINE FIELD record ON hive_removal TYPE string;

      DEFINE TABLE peer SCHEMAFULL;
      DEFINE FIELD node_id ON peer TYPE option<string>;
      DEFINE FIELD addresses ON peer TYPE array<string>;
      DEFINE FIELD capabilities ON peer TYPE option<object> FLEXIBLE;
      DEFINE FIELD capabilities_seq ON peer TYPE option<number>;
      DEFINE FIELD first_seen ON peer TYPE datetime;
      DEFINE FIELD last_seen ON peer TYPE datetime;
      DEFINE FIELD status ON peer TYPE string ASSERT $value IN ['online', 'offline', 'untrusted'];
      DEFINE FIELD member ON peer TYPE bool;
      DEFINE FIELD trust ON peer TYPE number;
      DEFINE FIELD stats ON peer TYPE object FLEXIBLE;
      DEFINE INDEX peer_last_seen ON peer FIELDS last_seen;
    `
  },
  {
    version: 4,
    name: 'operator account',
    surql: `
      DEFINE TABLE operator_account SCHEMAFULL;
      DEFINE FIELD password_hash ON operator_account TYPE string;
      DEFINE FIELD updated_at ON operator_account TYPE datetime;
    `
  }
]
