import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Media hosted for a group message (docs/protocol.md §11.4): every member fetches the blob
 * through the gatekeeper's proxy, so such a blob is served until it expires instead of
 * being removed after its first fetch. Existing rows are one-to-one.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("gk_media_hosted", (t) => {
    t.boolean("until_expiry").notNullable().defaultTo(false);
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("gk_media_hosted", (t) => {
    t.dropColumn("until_expiry");
  });
}

export const hostedMediaGroupsMigration: Migration = { name: "010_hosted_media_groups", up, down };
