import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Portals by contact: a contact's rename is told in every chat with them, whichever login it
 * belongs to, without reading every login's portals.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_portals", (t) => {
    t.index(["contact_jid"], "bridge_portals_contact");
  });
}

async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_portals", (t) => {
    t.dropIndex(["contact_jid"], "bridge_portals_contact");
  });
}

export const portalsByContactMigration: Migration = { name: "007_portals_by_contact", up, down };
