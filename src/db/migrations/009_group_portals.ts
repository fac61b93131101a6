import type { Knex } from "knex";
import { dialectOf } from "../../util/sql-dialect.js";
import type { Migration } from "./index.js";

/**
 * Group portals (docs/architecture.md, "Groups"). A portal is one-to-one (login, contact) or
 * a group (group JID) shared by every login of this bridge that is a member; the member
 * logins are in bridge_portal_logins. An outbox row of a group portal names the login it
 * goes out through (the Matrix sender's). Logins are found by JID: a group message whose
 * sender is one of them is the echo of a Matrix message.
 *
 * Runs in a transaction of its own (see `transaction: false`): on SQLite, login_id and
 * contact_jid lose NOT NULL only by making the table again, with foreign keys off, which
 * SQLite ignores inside a transaction.
 */
async function up(knex: Knex): Promise<void> {
  // Committed already (a crash before knex recorded it): nothing to do.
  if (await knex.schema.hasTable("bridge_portal_logins")) return;
  const sqlite = dialectOf(knex) === "sqlite";
  if (sqlite) await knex.raw("PRAGMA foreign_keys = OFF");
  try {
    await knex.transaction(async (trx) => {
      if (sqlite) await rebuildPortalsOnSqlite(trx);
      else {
        await trx.schema.alterTable("bridge_portals", (t) => {
          t.setNullable("login_id");
          t.setNullable("contact_jid");
          t.string("kind", 8).notNullable().defaultTo("direct"); // direct | group
          t.string("group_jid", 255).nullable();
        });
      }
      await trx.schema.alterTable("bridge_portals", (t) => {
        t.unique(["group_jid"], { indexName: "bridge_portals_group" });
      });
      await trx.schema.createTable("bridge_portal_logins", (t) => {
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
        t.bigInteger("created_at").notNullable();
        t.primary(["portal_id", "login_id"]);
        t.index(["login_id"], "bridge_portal_logins_login");
      });
      await trx.schema.alterTable("bridge_outbox", (t) => {
        t.string("login_id", 64).nullable(); // group portals only: who sends it
      });
      await trx.schema.alterTable("bridge_logins", (t) => {
        t.index(["jid"], "bridge_logins_jid");
      });
      if (sqlite) {
        const broken = (await trx.raw("PRAGMA foreign_key_check")) as unknown[];
        if (broken.length > 0) throw new Error("009_group_portals: foreign keys broken");
      }
    });
  } finally {
    if (sqlite) await knex.raw("PRAGMA foreign_keys = ON");
  }
}

/**
 * The table made again as SQLite's documentation describes it (foreign keys are off: the
 * other tables' references to "bridge_portals" are text, and name the new table once it has
 * the name), with the two new columns. Ids are kept, and the AUTOINCREMENT counter too.
 */
async function rebuildPortalsOnSqlite(trx: Knex.Transaction): Promise<void> {
  const seq = (await trx.raw(
    "SELECT `seq` FROM `sqlite_sequence` WHERE `name` = 'bridge_portals'",
  )) as { seq: number }[];
  await trx.raw(
    "CREATE TABLE `bridge_portals_009` (`id` integer not null primary key autoincrement, " +
      "`login_id` varchar(64) null, `contact_jid` varchar(255) null, " +
      "`room_id` varchar(255) null, `state` varchar(16) not null, " +
      "`created_at` bigint not null, `updated_at` bigint not null, " +
      "`puppet_power_lowered` boolean not null default '0', " +
      "`kind` varchar(8) not null default 'direct', `group_jid` varchar(255) null, " +
      "foreign key(`login_id`) references `bridge_logins`(`id`) on delete CASCADE)",
  );
  await trx.raw(
    "INSERT INTO `bridge_portals_009` (`id`, `login_id`, `contact_jid`, `room_id`, `state`, " +
      "`created_at`, `updated_at`, `puppet_power_lowered`) SELECT `id`, `login_id`, " +
      "`contact_jid`, `room_id`, `state`, `created_at`, `updated_at`, " +
      "`puppet_power_lowered` FROM `bridge_portals`",
  );
  await trx.raw("DROP TABLE `bridge_portals`");
  await trx.raw("ALTER TABLE `bridge_portals_009` RENAME TO `bridge_portals`");
  if (seq[0] !== undefined) {
    await trx.raw("DELETE FROM `sqlite_sequence` WHERE `name` = 'bridge_portals'");
    await trx.raw("INSERT INTO `sqlite_sequence` (`name`, `seq`) VALUES ('bridge_portals', ?)", [
      seq[0].seq,
    ]);
  }
  await trx.raw(
    "CREATE UNIQUE INDEX `bridge_portals_room_id_unique` on `bridge_portals` (`room_id`)",
  );
  await trx.raw(
    "CREATE UNIQUE INDEX `bridge_portals_login_contact` on `bridge_portals` " +
      "(`login_id`, `contact_jid`)",
  );
  await trx.raw("CREATE INDEX `bridge_portals_contact` on `bridge_portals` (`contact_jid`)");
}

// No `down`: group portals (and their message map) cannot go back into one-to-one rows.
export const groupPortalsMigration: Migration = {
  name: "009_group_portals",
  transaction: false,
  up,
};
