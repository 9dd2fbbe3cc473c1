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
  }
]
