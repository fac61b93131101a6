import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Read receipts in group portals (docs/architecture.md, "Groups" step 6). A group room is
 * shared by several Matrix users and several native members, so 006's one marker per portal
 * becomes one per (portal, login) for how far each user's receipts went, and one per
 * (portal, member) for how far each member read our messages (their puppet's marker).
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("bridge_group_read_markers", (t) => {
    t.integer("portal_id")
      .unsigned()
      .notNullable()
      .references("id")
      .inTable("bridge_portals")
      .onDelete("CASCADE");
    t.string("login_id", 64)
      .notNullable()
      .references("id")
      .inTable("bridge_logins")
      .onDelete("CASCADE");
    // bridge_message_map.id of the newest message of others the login's receipts covered.
    t.bigInteger("read_up_to").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.primary(["portal_id", "login_id"]);
    t.index(["login_id"], "bridge_group_read_markers_login");
  });
  await knex.schema.createTable("bridge_group_member_reads", (t) => {
    t.integer("portal_id")
      .unsigned()
      .notNullable()
      .references("id")
      .inTable("bridge_portals")
      .onDelete("CASCADE");
    t.string("member_jid", 255).notNullable();
    // bridge_outbox.id of the newest of our messages the member read (the puppet's marker).
    t.bigInteger("read_up_to").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.primary(["portal_id", "member_jid"]);
  });
}

// No `down`: without the markers, what a user read while receipts were off would be reported.
export const groupReadMarkersMigration: Migration = { name: "011_group_read_markers", up };
