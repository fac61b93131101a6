/**
 * The sandbox's own schema, separate from the bridge's (tables prefixed `sb_`,
 * migrations recorded in `sandbox_migrations`), so a sandbox can even share a
 * database file with a bridge in a demo without either noticing.
 *
 * Times are Unix milliseconds. Binary columns hold public keys and the encoded
 * stanzas queued for delivery; there is never plaintext content to store.
 */
import type { Knex } from "knex";

interface SandboxMigration {
  name: string;
  up(knex: Knex): Promise<void>;
}

const initial: SandboxMigration = {
  name: "001_sandbox_initial",
  async up(knex) {
    await knex.schema.createTable("sb_meta", (t) => {
      t.string("key", 64).primary();
      t.text("value").notNullable();
    });
    await knex.schema.createTable("sb_partners", (t) => {
      t.string("id", 32).primary();
      t.text("auth_url").notNullable();
      t.text("secret").notNullable();
      t.text("media_origin").nullable();
      t.boolean("suspended").notNullable().defaultTo(false);
      t.bigInteger("created_at").notNullable();
    });
    // Native users and partner users alike, keyed by JID.
    await knex.schema.createTable("sb_accounts", (t) => {
      t.string("jid", 128).primary();
      t.string("kind", 8).notNullable(); // "native" | "interop"
      t.string("partner_id", 32).nullable();
      t.string("account_id", 64).notNullable();
      // Native: the registered number. Interop: the number the partner callback last returned.
      t.string("phone", 16).nullable();
      t.text("name").nullable();
      t.string("token_hash", 64).nullable();
      t.boolean("interop_enabled").notNullable().defaultTo(false);
      t.text("interop_partners").notNullable().defaultTo("");
      t.string("inbox", 16).notNullable().defaultTo("separate");
      t.boolean("send_read_receipts").notNullable().defaultTo(true);
      t.bigInteger("created_at").notNullable();
      t.bigInteger("last_seen_at").nullable();
      t.index(["kind", "phone"]);
      t.index(["partner_id"]);
    });
    await knex.schema.createTable("sb_enlistments", (t) => {
      t.string("phone", 16).primary();
      t.string("jid", 128).notNullable().unique();
      t.bigInteger("enlisted_at").notNullable();
    });
    await knex.schema.createTable("sb_enlist_codes", (t) => {
      t.string("jid", 128).primary();
      t.string("phone", 16).notNullable();
      t.string("code", 16).notNullable();
      t.bigInteger("requested_at").notNullable();
      t.bigInteger("expires_at").notNullable();
      t.integer("attempts").notNullable().defaultTo(0);
      t.index(["phone"]);
    });
    await knex.schema.createTable("sb_identities", (t) => {
      t.string("jid", 128).primary();
      t.integer("registration_id").notNullable();
      t.binary("identity_key").notNullable();
      t.integer("device").notNullable();
      // Set by rotate-identity: the keys are gone, the old identity is kept to detect the change.
      t.boolean("revoked").notNullable().defaultTo(false);
      t.bigInteger("updated_at").notNullable();
    });
    await knex.schema.createTable("sb_signed_prekeys", (t) => {
      t.string("jid", 128).notNullable();
      t.string("kind", 8).notNullable(); // "ec" | "kyber"
      t.integer("key_id").notNullable();
      t.binary("public_key").notNullable();
      t.binary("signature").notNullable();
      t.primary(["jid", "kind"]);
    });
    await knex.schema.createTable("sb_prekeys", (t) => {
      t.string("jid", 128).notNullable();
      t.integer("key_id").notNullable();
      t.binary("public_key").notNullable();
      t.primary(["jid", "key_id"]);
    });
    await knex.schema.createTable("sb_queue", (t) => {
      t.increments("seq").primary();
      t.string("recipient", 128).notNullable();
      t.string("sender", 128).notNullable();
      t.string("kind", 16).notNullable(); // "message" | "receipt" | "notification"
      t.string("stanza_id", 64).notNullable();
      // Receipt type ("" = delivery) or notification type: receipts of one message share its id.
      t.string("type", 32).notNullable().defaultTo("");
      // The stanza exactly as it will be delivered (encoded XML), minus offline="1".
      t.binary("payload").notNullable();
      t.integer("size").notNullable();
      t.bigInteger("created_at").notNullable();
      t.bigInteger("expires_at").notNullable();
      t.index(["recipient", "seq"]);
    });
    // Accepted messages and receipts, so a resend of (sender, id, retry) is acked again, not delivered twice.
    await knex.schema.createTable("sb_accepted", (t) => {
      t.string("sender", 128).notNullable();
      t.string("kind", 16).notNullable();
      t.string("stanza_id", 64).notNullable();
      t.integer("retry").notNullable();
      t.bigInteger("t").notNullable();
      t.bigInteger("created_at").notNullable();
      t.primary(["sender", "kind", "stanza_id", "retry"]);
    });
    // Who has exchanged messages with whom; (a, b) ordered so a < b.
    await knex.schema.createTable("sb_conversations", (t) => {
      t.string("a", 128).notNullable();
      t.string("b", 128).notNullable();
      t.string("initiator", 128).notNullable();
      t.bigInteger("created_at").notNullable();
      t.primary(["a", "b"]);
      t.index(["initiator", "created_at"]);
      t.index(["b"]);
    });
    await knex.schema.createTable("sb_blocks", (t) => {
      t.string("blocker", 128).notNullable();
      t.string("blocked", 128).notNullable();
      t.bigInteger("created_at").notNullable();
      t.primary(["blocker", "blocked"]);
    });
    await knex.schema.createTable("sb_media", (t) => {
      t.string("id", 64).primary();
      t.string("owner", 128).notNullable();
      t.bigInteger("size").notNullable();
      t.string("enc_sha256", 64).notNullable();
      t.bigInteger("created_at").notNullable();
    });
  },
};

/**
 * An ack removes its stanza by (recipient, kind, id): without this index that was a scan
 * of everything queued for the recipient, per ack (the load bench's largest sandbox cost
 * when one login has a backlog).
 */
const queueByStanza: SandboxMigration = {
  name: "002_sandbox_queue_by_stanza",
  async up(knex) {
    await knex.schema.alterTable("sb_queue", (t) => {
      t.index(["recipient", "kind", "stanza_id"], "sb_queue_recipient_stanza");
    });
  },
};

/**
 * Groups (docs/protocol.md §19): who takes part in groups (the last login's
 * `ClientPayload.groups`), the groups with their members in join order, and the
 * `participant` of queued group stanzas, which a client's ack must name (§19.5).
 * A deleted group keeps its row (`deleted_at`) so that its JID is never reused.
 */
const groups: SandboxMigration = {
  name: "003_sandbox_groups",
  async up(knex) {
    await knex.schema.alterTable("sb_accounts", (t) => {
      t.boolean("groups").notNullable().defaultTo(false);
    });
    // "" for one-to-one stanzas and notifications; the sender (message) or reader (receipt) in a group.
    await knex.schema.alterTable("sb_queue", (t) => {
      t.string("participant", 128).notNullable().defaultTo("");
    });
    await knex.schema.createTable("sb_groups", (t) => {
      t.string("jid", 64).primary();
      t.text("subject").notNullable();
      t.bigInteger("subject_t").notNullable(); // Unix seconds
      t.string("subject_owner", 128).notNullable();
      t.string("creator", 128).notNullable();
      t.bigInteger("created_at").notNullable(); // Unix milliseconds
      t.string("description_id", 64).nullable();
      t.text("description").nullable();
      t.string("picture_id", 64).nullable();
      t.binary("picture").nullable();
      t.string("picture_mimetype", 64).nullable();
      t.bigInteger("deleted_at").nullable();
      t.index(["creator", "created_at"]);
    });
    await knex.schema.createTable("sb_group_members", (t) => {
      t.increments("seq").primary(); // join order
      t.string("group_jid", 64).notNullable();
      t.string("member", 128).notNullable();
      t.string("role", 16).notNullable(); // "superadmin" | "admin" | "member"
      t.bigInteger("joined_at").notNullable();
      t.unique(["group_jid", "member"]);
      t.index(["member"]);
    });
  },
};

export const sandboxMigrations: readonly SandboxMigration[] = [initial, queueByStanza, groups];

export const SANDBOX_MIGRATIONS_TABLE = "sandbox_migrations";

class SandboxMigrationSource implements Knex.MigrationSource<SandboxMigration> {
  async getMigrations(): Promise<SandboxMigration[]> {
    return [...sandboxMigrations];
  }
  getMigrationName(migration: SandboxMigration): string {
    return migration.name;
  }
  async getMigration(migration: SandboxMigration): Promise<Knex.Migration> {
    return {
      up: (k) => migration.up(k),
      down: async () => {
        throw new Error(`sandbox migration ${migration.name} cannot be rolled back`);
      },
    };
  }
}

export async function migrateSandbox(db: Knex): Promise<void> {
  await db.migrate.latest({
    migrationSource: new SandboxMigrationSource(),
    tableName: SANDBOX_MIGRATIONS_TABLE,
  });
}
