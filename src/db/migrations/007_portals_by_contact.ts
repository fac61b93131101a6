import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Portals by contact: a contact's rename is told in every chat with them, whichever login it
 * belongs to, without reading every login's portals. And whether the portal's puppet holds
 * no more power than a member: portals made before puppets lowered themselves are lowered
 * once, in the background, after an upgrade.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("bridge_portals", (t) => {
    t.index(["contact_jid"], "bridge_portals_contact");
    t.boolean("puppet_power_lowered").notNullable().defaultTo(false);
  });
}

// No `down`: dropping the column would make the bridge lower every puppet again (harmless,
// but the index alone is not worth a partial undo).
export const portalsByContactMigration: Migration = { name: "007_portals_by_contact", up };
