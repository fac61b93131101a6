import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * State of the GKI/1 client (src/gatekeeper/client/), scoped by `owner` like the Signal
 * tables. Timestamps are milliseconds since the epoch unless named `t` (server seconds).
 */
async function up(knex: Knex): Promise<void> {
  // One row per account: the Noise static key the client logs in with (kept across
  // restarts) and what the gatekeeper last got from us.
  await knex.schema.createTable("gk_client_accounts", (t) => {
    t.string("owner", 255).primary();
    t.binary("noise_private_key").notNullable();
    t.binary("noise_public_key").notNullable();
    t.string("jid", 255).nullable(); // from the last <success>
    t.binary("uploaded_identity_key").nullable(); // identity key of the last full key upload
    t.bigInteger("created_at").notNullable();
  });

  // Received messages: decrypted content waits here ("pending") until the application has
  // handled it; afterwards only the id stays ("handled"), to recognise redeliveries.
  await knex.schema.createTable("gk_client_inbox", (t) => {
    t.string("owner", 255).notNullable();
    t.string("sender", 255).notNullable();
    t.string("msg_id", 64).notNullable();
    t.integer("retry").notNullable();
    t.string("state", 16).notNullable(); // pending | handled | failed
    t.binary("plaintext").nullable(); // serialized gki.v1.Message, only while pending
    t.bigInteger("t").notNullable();
    t.boolean("offline").notNullable();
    t.bigInteger("received_at").notNullable();
    t.bigInteger("handled_at").nullable();
    t.primary(["owner", "sender", "msg_id"]);
    t.index(["received_at"], "gk_client_inbox_received_at");
  });

  // Sent messages, kept 24 h so a retry receipt can be answered by re-encrypting.
  await knex.schema.createTable("gk_client_sent", (t) => {
    t.string("owner", 255).notNullable();
    t.string("recipient", 255).notNullable();
    t.string("msg_id", 64).notNullable();
    t.binary("content").notNullable(); // serialized gki.v1.Message
    t.integer("retry_count").notNullable();
    t.bigInteger("created_at").notNullable();
    t.primary(["owner", "recipient", "msg_id"]);
    t.index(["created_at"], "gk_client_sent_created_at");
  });
}

// No `down`: it would drop pending (received, not yet handled) messages and the Noise keys.
export const gatekeeperClientMigration: Migration = { name: "002_gatekeeper_client", up };
