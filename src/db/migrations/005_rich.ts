import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Reactions (src/core/relations-out.ts, relations-in.ts): which Matrix reaction event
 * stands for whose reaction on which message. The gatekeeper allows one reaction per
 * person per message, so a portal holds at most one row per (message, reactor); a new
 * reaction replaces the row and the Matrix event it names is redacted.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("bridge_reactions", (t) => {
    t.bigIncrements("id").primary();
    t.integer("portal_id")
      .unsigned()
      .notNullable()
      .references("id")
      .inTable("bridge_portals")
      .onDelete("CASCADE");
    // The message reacted to, by its remote id and author (as in bridge_message_map).
    t.string("target_remote_id", 64).notNullable();
    t.string("target_sender", 255).notNullable();
    // Remote id of who reacted: the contact, or the login's own id.
    t.string("reactor", 255).notNullable();
    t.text("emoji").notNullable();
    t.string("mx_event_id", 255).notNullable().unique();
    // The gatekeeper message that carried an incoming reaction (recognises a redelivery).
    t.string("remote_id", 64).nullable();
    t.bigInteger("timestamp").notNullable();
    t.unique(["portal_id", "target_sender", "target_remote_id", "reactor"], {
      indexName: "bridge_reactions_one_per_reactor",
    });
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("bridge_reactions");
}

export const richMigration: Migration = { name: "005_rich", up, down };
