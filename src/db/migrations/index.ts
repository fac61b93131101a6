import type { Knex } from "knex";
import { signalMigration } from "./001_signal.js";
import { gatekeeperClientMigration } from "./002_gatekeeper_client.js";
import { bridgeMigration } from "./003_bridge.js";
import { mediaMigration } from "./004_media.js";
import { richMigration } from "./005_rich.js";
import { receiptsMigration } from "./006_receipts.js";
import { portalsByContactMigration } from "./007_portals_by_contact.js";
import { senderKeysMigration } from "./008_sender_keys.js";
import { groupPortalsMigration } from "./009_group_portals.js";
import { hostedMediaGroupsMigration } from "./010_hosted_media_groups.js";
import { groupReadMarkersMigration } from "./011_group_read_markers.js";
import { groupAvatarsMigration } from "./012_group_avatars.js";
import { loginLeasesMigration } from "./013_login_leases.js";
import { intakeRoutingMigration } from "./014_intake_routing.js";

/** One schema step. `up` must never destroy data; `down` is optional on purpose. */
export interface Migration {
  name: string;
  /**
   * false: knex runs `up` outside a transaction (it opens its own). For SQLite table rebuilds,
   * which must turn foreign keys off, and SQLite ignores that inside a transaction.
   */
  transaction?: false;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/**
 * Every migration, in order. Append new ones at the end (one line each); never rename,
 * reorder or remove an entry: the names are recorded in the database.
 */
export const migrations: readonly Migration[] = [
  signalMigration,
  gatekeeperClientMigration,
  bridgeMigration,
  mediaMigration,
  richMigration,
  receiptsMigration,
  portalsByContactMigration,
  senderKeysMigration,
  groupPortalsMigration,
  hostedMediaGroupsMigration,
  groupReadMarkersMigration,
  groupAvatarsMigration,
  loginLeasesMigration,
  intakeRoutingMigration,
];

export const MIGRATIONS_TABLE = "gkb_migrations";

// Migrations live in code rather than in a folder knex would glob, so they run the same
// from src (tsx, vitest) and from dist.
class CodeMigrationSource implements Knex.MigrationSource<Migration> {
  constructor(private readonly list: readonly Migration[]) {}
  async getMigrations(): Promise<Migration[]> {
    return [...this.list];
  }
  getMigrationName(migration: Migration): string {
    return migration.name;
  }
  async getMigration(migration: Migration): Promise<Knex.Migration> {
    // knex insists on a `down`; a step without one refuses to be rolled back.
    const down =
      migration.down?.bind(migration) ??
      (async () => {
        throw new Error(`migration ${migration.name} cannot be rolled back`);
      });
    return {
      up: (k) => migration.up(k),
      down: (k) => down(k),
      ...(migration.transaction === false ? { config: { transaction: false } } : {}),
    };
  }
}

/** Brings the schema up to date; safe to call on every start (already-applied steps are skipped). */
export async function migrate(db: Knex, list: readonly Migration[] = migrations): Promise<void> {
  await db.migrate.latest({
    migrationSource: new CodeMigrationSource(list),
    tableName: MIGRATIONS_TABLE,
  });
}

/** Names of the migrations already applied, in the order they ran. */
export async function appliedMigrations(db: Knex): Promise<string[]> {
  if (!(await db.schema.hasTable(MIGRATIONS_TABLE))) return [];
  const rows = (await db(MIGRATIONS_TABLE).select("name").orderBy("id")) as { name: string }[];
  return rows.map((r) => r.name);
}
