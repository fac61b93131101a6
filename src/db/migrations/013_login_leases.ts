import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Several bridge processes on one PostgreSQL (docs/architecture.md, "Several processes"):
 * the live worker processes, and which of them owns each login. A lease is a row with an
 * expiry in the database's clock and an epoch that grows with every new owner (the fencing
 * token). Times are ms since the epoch.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("bridge_workers", (t) => {
    t.string("worker_id", 64).primary();
    t.string("role", 16).notNullable();
    t.bigInteger("started_at").notNullable();
    t.bigInteger("heartbeat_at").notNullable();
    t.bigInteger("expires_at").notNullable();
  });
  await knex.schema.createTable("bridge_login_leases", (t) => {
    t.string("login_id", 64)
      .primary()
      .references("id")
      .inTable("bridge_logins")
      .onDelete("CASCADE");
    // null: released (any worker may take it).
    t.string("worker_id", 64).nullable();
    t.bigInteger("epoch").notNullable();
    t.bigInteger("expires_at").notNullable();
    t.bigInteger("acquired_at").notNullable();
    t.index(["worker_id"], "bridge_login_leases_worker");
    t.index(["expires_at"], "bridge_login_leases_expiry");
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("bridge_login_leases");
  await knex.schema.dropTable("bridge_workers");
}

export const loginLeasesMigration: Migration = { name: "013_login_leases", up, down };
