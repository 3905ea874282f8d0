// Versioned migrations, listed explicitly and run in order at start and by
// `npm run migrate`. Kysely's Migrator records what ran and, on PostgreSQL,
// holds an advisory lock so instances starting together migrate once.
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely'
import type { Database, Engine } from './database.ts'
import * as m0001 from './migrations/0001-initial.ts'
import * as m0002 from './migrations/0002-auth.ts'
import * as m0003 from './migrations/0003-task-counts.ts'
import * as m0004 from './migrations/0004-events.ts'
import * as m0005 from './migrations/0005-search-state.ts'
import * as m0006 from './migrations/0006-tag-created.ts'
import * as m0007 from './migrations/0007-count-inserts.ts'
import * as m0008 from './migrations/0008-email-nfc.ts'

interface MigrationModule {
  up(db: Kysely<unknown>, engine: Engine): Promise<void>
}

const MIGRATIONS: Record<string, MigrationModule> = {
  '0001-initial': m0001,
  '0002-auth': m0002,
  '0003-task-counts': m0003,
  '0004-events': m0004,
  '0005-search-state': m0005,
  '0006-tag-created': m0006,
  '0007-count-inserts': m0007,
  '0008-email-nfc': m0008,
}

class ListedMigrations implements MigrationProvider {
  readonly #engine: Engine
  constructor(engine: Engine) {
    this.#engine = engine
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    const result: Record<string, Migration> = {}
    for (const [name, module] of Object.entries(MIGRATIONS)) {
      result[name] = { up: (db) => module.up(db as Kysely<unknown>, this.#engine) }
    }
    return result
  }
}

/** Brings the schema to the latest version; returns the names of migrations applied now. */
export function migrateToLatest(database: Database): Promise<string[]> {
  return migrate(database, (migrator) => migrator.migrateToLatest())
}

/** Brings the schema up to `name` and no further: for tests of a later migration's upgrade path. */
export function migrateUpTo(database: Database, name: keyof typeof MIGRATIONS): Promise<string[]> {
  return migrate(database, (migrator) => migrator.migrateTo(name))
}

/** What a catalog listing raises when another schema's DDL drops what it was reading. */
const RACING_DDL = new Set(['3F000', '42P01', '42703'])

async function migrate(
  database: Database,
  run: (migrator: Migrator) => ReturnType<Migrator['migrateToLatest']>,
): Promise<string[]> {
  // On PostgreSQL the bookkeeping tables live in the schema the service uses (search_path),
  // so deployments (and test runs) that share a database in separate schemas never see each other's.
  let migrationTableSchema: string | undefined
  if (database.engine === 'postgres') {
    const { rows } = await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(database.db)
    migrationTableSchema = rows[0]?.schema
  }
  const migrator = new Migrator({
    db: database.db,
    provider: new ListedMigrations(database.engine),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  })
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await run(migrator)
    if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
    // Kysely looks for its bookkeeping tables by listing the tables of every schema, with their
    // columns; a schema, table or column another deployment drops at that moment fails the
    // listing with 3F000 (invalid_schema_name), 42P01 (undefined_table) or 42703
    // (undefined_column, seen in CI while another schema migrated). Completed migrations are
    // recorded, so the run is simply repeated; a migration that really fails this way fails
    // again and is thrown.
    const code = (error as { code?: string }).code
    if (RACING_DDL.has(code ?? '') && attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
      continue
    }
    throw error instanceof Error ? error : new Error(String(error))
  }
}
