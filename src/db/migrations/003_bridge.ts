import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * The bridge's own state (docs/architecture.md, "Data"). Timestamps are milliseconds since
 * the epoch. States are plain strings, not database enums, so a later state is a code
 * change rather than a migration.
 */
async function up(knex: Knex): Promise<void> {
  // Matrix users who talk to the bridge: their management room and their space.
  await knex.schema.createTable("bridge_users", (t) => {
    t.string("mxid", 255).primary();
    t.string("management_room_id", 255).nullable().unique();
    t.string("space_room_id", 255).nullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
  });

  // A Matrix user's account with the gatekeeper. `token` is what the bridge logs in with
  // and what the gatekeeper's auth callback presents back to us.
  await knex.schema.createTable("bridge_logins", (t) => {
    t.string("id", 64).primary();
    t.string("mxid", 255).notNullable().unique();
    t.string("phone", 16).notNullable().unique(); // E.164
    t.string("account_id", 64).notNullable().unique();
    t.string("token", 128).notNullable();
    t.string("jid", 255).nullable(); // from enlistment / <success>
    t.string("state", 16).notNullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
  });

  // One Matrix ghost user per gatekeeper contact, shared by every login that knows them.
  await knex.schema.createTable("bridge_puppets", (t) => {
    t.string("jid", 255).primary();
    t.string("mxid", 255).notNullable().unique();
    t.string("display_name", 255).nullable();
    t.string("phone", 16).nullable(); // last seen in a directory lookup, if ever
    t.string("avatar_mxc", 255).nullable();
    t.string("avatar_source", 255).nullable(); // the remote picture it was made from
    t.bigInteger("updated_at").notNullable();
  });

  // One room per (login, contact).
  await knex.schema.createTable("bridge_portals", (t) => {
    t.increments("id").primary();
    t.string("login_id", 64)
      .notNullable()
      .references("id")
      .inTable("bridge_logins")
      .onDelete("CASCADE");
    t.string("contact_jid", 255).notNullable();
    t.string("room_id", 255).nullable().unique(); // null until the room exists
    t.string("state", 16).notNullable(); // active | request | blocked
    t.bigInteger("created_at").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.unique(["login_id", "contact_jid"], { indexName: "bridge_portals_login_contact" });
  });

  await knex.schema.createTable("bridge_message_map", (t) => {
    t.bigIncrements("id").primary();
    t.integer("portal_id")
      .unsigned()
      .notNullable()
      .references("id")
      .inTable("bridge_portals")
      .onDelete("CASCADE");
    t.string("mx_event_id", 255).notNullable().unique();
    t.string("remote_id", 64).notNullable();
    t.string("remote_sender", 255).notNullable();
    t.bigInteger("timestamp").notNullable();
    t.unique(["portal_id", "remote_sender", "remote_id"], {
      indexName: "bridge_message_map_remote",
    });
    t.index(["portal_id", "timestamp"], "bridge_message_map_portal_time");
  });

  // Durable intake of appservice transactions (see src/matrix): txn ids answered, and every
  // event until a worker has handled it. Handled events keep their id (for dedupe), not
  // their content.
  await knex.schema.createTable("as_transactions", (t) => {
    t.string("txn_id", 255).primary();
    t.bigInteger("received_at").notNullable();
    t.index(["received_at"], "as_transactions_received_at");
  });
  await knex.schema.createTable("matrix_event_queue", (t) => {
    t.bigIncrements("seq").primary();
    t.string("event_id", 255).notNullable().unique();
    t.string("room_id", 255).notNullable();
    t.text("json").nullable(); // the event, until done
    t.string("state", 8).notNullable(); // queued | done | failed
    t.integer("attempts").notNullable().defaultTo(0);
    t.bigInteger("next_attempt_at").notNullable();
    t.text("last_error").nullable();
    t.bigInteger("received_at").notNullable();
    t.index(["state", "room_id", "seq"], "matrix_event_queue_state_room");
  });

  // Matrix → gatekeeper messages until the gatekeeper acked them (or they failed for good).
  await knex.schema.createTable("bridge_outbox", (t) => {
    t.bigIncrements("id").primary();
    t.integer("portal_id")
      .unsigned()
      .notNullable()
      .references("id")
      .inTable("bridge_portals")
      .onDelete("CASCADE");
    t.string("event_id", 255).notNullable().unique();
    t.string("remote_id", 64).notNullable(); // chosen once: a resend reuses it
    t.binary("payload").notNullable();
    t.string("state", 8).notNullable(); // pending | sent | failed
    t.integer("attempts").notNullable().defaultTo(0);
    t.bigInteger("next_attempt_at").notNullable();
    t.text("last_error").nullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("sent_at").nullable();
    t.bigInteger("server_ts").nullable(); // the gatekeeper's t (seconds) from the ack
    t.index(["portal_id", "state", "id"], "bridge_outbox_portal_state");
  });
}

// No `down`: it would drop logins, the message map and messages not yet delivered.
export const bridgeMigration: Migration = { name: "003_bridge", up };
