import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Media the bridge hosts for the gatekeeper (docs/protocol.md §11.4): one row per outgoing
 * media message, keyed by the message id chosen once in the outbox, so a resend after a
 * crash sends the same key, hashes and URL instead of a second upload. The encrypted blob
 * itself is a file named by the token (src/connector/media-host.ts).
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("gk_media_hosted", (t) => {
    // Unguessable (192 bits): the URL path the gatekeeper fetches, and the file's name.
    t.string("token", 64).primary();
    t.string("login_id", 64).notNullable();
    t.string("message_id", 64).notNullable();
    t.binary("media_key").notNullable();
    t.binary("file_sha256").notNullable();
    t.binary("file_enc_sha256").notNullable();
    t.bigInteger("file_length").notNullable(); // plaintext bytes
    t.bigInteger("blob_length").notNullable(); // ciphertext + MAC bytes, as served
    t.bigInteger("created_at").notNullable();
    t.bigInteger("expires_at").notNullable();
    t.bigInteger("fetched_at").nullable(); // set when the gatekeeper fetched it; the file goes
    t.unique(["login_id", "message_id"], { indexName: "gk_media_hosted_message" });
    t.index(["expires_at"], "gk_media_hosted_expires_at");
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("gk_media_hosted");
}

export const mediaMigration: Migration = { name: "004_media", up, down };
