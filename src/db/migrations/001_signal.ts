import type { Knex } from "knex";
import type { Migration } from "./index.js";

/**
 * Signal Protocol state. Every table is scoped by `owner` (our account's address), since
 * one bridge process holds many accounts. Timestamps are milliseconds since the epoch.
 */
async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("signal_accounts", (t) => {
    t.string("owner", 255).primary();
    t.integer("device_id").notNullable();
    t.integer("registration_id").notNullable();
    t.binary("identity_key_pair").notNullable(); // serialized IdentityKeyPair
    t.integer("next_prekey_id").notNullable();
    t.integer("next_signed_prekey_id").notNullable();
    t.integer("next_kyber_prekey_id").notNullable();
    t.integer("current_signed_prekey_id").nullable();
    t.integer("current_kyber_prekey_id").nullable(); // the last-resort Kyber prekey we advertise
    t.bigInteger("created_at").notNullable();
  });

  await knex.schema.createTable("signal_identities", (t) => {
    t.string("owner", 255).notNullable();
    t.string("name", 255).notNullable(); // remote user, e.g. "123@lid.gk"; identity is per user
    t.binary("identity_key").notNullable(); // the key we trust now
    t.binary("previous_key").nullable(); // the key it replaced, for change notices
    t.binary("pending_key").nullable(); // a new key waiting for confirmIdentity()
    t.string("trust", 16).notNullable(); // first-use | changed | unconfirmed | confirmed
    t.bigInteger("first_seen_at").notNullable();
    t.bigInteger("changed_at").nullable();
    t.primary(["owner", "name"]);
  });

  await knex.schema.createTable("signal_sessions", (t) => {
    t.string("owner", 255).notNullable();
    t.string("name", 255).notNullable();
    t.integer("device_id").notNullable();
    t.binary("record").notNullable();
    t.bigInteger("updated_at").notNullable();
    t.primary(["owner", "name", "device_id"]);
  });

  await knex.schema.createTable("signal_prekeys", (t) => {
    t.string("owner", 255).notNullable();
    t.integer("key_id").notNullable();
    t.binary("record").notNullable();
    t.bigInteger("created_at").notNullable();
    t.primary(["owner", "key_id"]);
  });

  await knex.schema.createTable("signal_signed_prekeys", (t) => {
    t.string("owner", 255).notNullable();
    t.integer("key_id").notNullable();
    t.binary("record").notNullable();
    t.bigInteger("created_at").notNullable();
    t.primary(["owner", "key_id"]);
  });

  await knex.schema.createTable("signal_kyber_prekeys", (t) => {
    t.string("owner", 255).notNullable();
    t.integer("key_id").notNullable();
    t.binary("record").notNullable();
    t.boolean("last_resort").notNullable();
    t.bigInteger("created_at").notNullable();
    t.bigInteger("last_used_at").nullable();
    t.primary(["owner", "key_id"]);
  });
}

// No `down`: rolling this back would destroy every account's identity keys.
export const signalMigration: Migration = { name: "001_signal", up };
