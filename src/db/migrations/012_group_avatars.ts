import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * A group's picture as its room's avatar: `avatar_source` is the remote picture id the avatar
 * was made from, so that every member login reporting the same change uploads it once.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_portals", (t) => {
    t.string("avatar_source", 255).nullable();
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_portals", (t) => {
    t.dropColumn("avatar_source");
  });
}

export const groupAvatarsMigration: Migration = { name: "012_group_avatars", up, down };
