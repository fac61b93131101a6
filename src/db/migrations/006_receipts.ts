import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Read receipts: each user's choice whether to send them, and per portal how far read
 * receipts have gone in each direction (so a receipt is sent once, and the puppet's read
 * marker never moves back).
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_users", (t) => {
    t.boolean("send_read_receipts").notNullable().defaultTo(true);
  });
  await knex.schema.createTable("bridge_read_markers", (t) => {
    t.integer("portal_id")
      .unsigned()
      .primary()
      .references("id")
      .inTable("bridge_portals")
      .onDelete("CASCADE");
    // bridge_message_map.id of the newest contact message the user's receipts covered.
    t.bigInteger("user_read_up_to").nullable();
    // bridge_outbox.id of the newest of our messages the contact read (the puppet's marker).
    t.bigInteger("contact_read_up_to").nullable();
    t.bigInteger("updated_at").notNullable();
  });
}

// No `down`: dropping the column would silently turn a user's read receipts back on.
export const receiptsMigration: Migration = { name: "006_receipts", up };
