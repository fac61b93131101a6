import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Group Signal state (GKI/1 §19.5): the sender keys of libsignal's group cipher, ours and
 * every member's, and which sender key we currently distribute in each group and to whom.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("signal_sender_keys", (t) => {
    t.string("owner", 255).notNullable();
    t.string("name", 255).notNullable(); // the sender: a member's JID, or our own (owner)
    t.integer("device_id").notNullable();
    t.string("distribution_id", 36).notNullable(); // UUID, lower-case as libsignal writes it
    // The group the key was distributed for: a key only decrypts that group's messages, and
    // leaving a group deletes its keys.
    t.string("group_jid", 255).notNullable();
    t.binary("record").notNullable(); // serialized SenderKeyRecord
    t.bigInteger("updated_at").notNullable(); // also the row's version (see replaceSenderKey)
    t.primary(["owner", "name", "device_id", "distribution_id"]);
    t.index(["owner", "group_jid"], "signal_sender_keys_group");
  });

  // Our own sender key per group: the distribution id we encrypt with now.
  await knex.schema.createTable("signal_group_distributions", (t) => {
    t.string("owner", 255).notNullable();
    t.string("group_jid", 255).notNullable();
    t.string("distribution_id", 36).notNullable();
    t.bigInteger("created_at").notNullable();
    t.primary(["owner", "group_jid"]);
  });

  // Members who were sent our sender key, and which one (a rotation makes them stale).
  await knex.schema.createTable("signal_group_recipients", (t) => {
    t.string("owner", 255).notNullable();
    t.string("group_jid", 255).notNullable();
    t.string("member_jid", 255).notNullable();
    t.string("distribution_id", 36).notNullable();
    t.bigInteger("distributed_at").notNullable();
    t.primary(["owner", "group_jid", "member_jid"]);
  });
}

// No `down`: dropping these tables would lose every group's keys (members could no longer
// read what we send, nor we what they sent).
export const senderKeysMigration: Migration = { name: "008_sender_keys", up };
