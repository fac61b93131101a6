import type { Knex } from "knex";
import { dialectOf } from "../../util/sql-dialect.js";
import type { Migration } from "./index.js";

/**
 * Several bridge processes (docs/architecture.md, "Several processes"): each queued Matrix
 * event is handled by the worker that owns its sender's login, so the queue keeps the
 * sender; an event of someone with no login (a first `login`, a bot invite) is claimed by
 * one worker for a while (`claimed_by`, `claimed_until`: the database's clock, ms). A
 * worker's row records where it runs, so that a restarted worker knows its dead
 * predecessor's leases from a live twin's.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("matrix_event_queue", (t) => {
    t.string("sender", 255).nullable();
    t.string("claimed_by", 64).nullable();
    t.bigInteger("claimed_until").nullable();
  });
  // Events queued before the upgrade: their sender from the stored event.
  const sender =
    dialectOf(knex) === "postgres"
      ? "(json::jsonb ->> 'sender')"
      : "json_extract(json, '$.sender')";
  await knex("matrix_event_queue")
    .where({ state: "queued" })
    .whereNotNull("json")
    .update({ sender: knex.raw(sender) });
  await knex.schema.alterTable("bridge_workers", (t) => {
    t.string("host", 255).nullable();
    t.integer("pid").nullable();
    // Random per process start: tells a live twin (same worker id) from a dead predecessor.
    t.string("instance", 32).nullable();
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_workers", (t) => {
    t.dropColumn("instance");
    t.dropColumn("pid");
    t.dropColumn("host");
  });
  await knex.schema.alterTable("matrix_event_queue", (t) => {
    t.dropColumn("claimed_until");
    t.dropColumn("claimed_by");
    t.dropColumn("sender");
  });
}

export const intakeRoutingMigration: Migration = { name: "014_intake_routing", up, down };
