/**
 * A fresh PostgreSQL schema for an e2e test's bridge, chosen the way an admin can with a URL
 * alone (`options=-c search_path=...`), dropped afterwards. DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test) says where.
 */
import { randomBytes } from "node:crypto";
import knexFactory from "knex";
import type { Knex } from "knex";

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

/** A connection URL whose sessions use `schema` (created here) for everything. */
function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set("options", `-c search_path=${schema}`);
  return u.toString();
}

export async function freshSchema() {
  const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const schema = `gkb_e2e_${randomBytes(6).toString("hex")}`;
  const admin = () => knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 1 } });
  const create = admin();
  try {
    await create.raw("CREATE SCHEMA ??", [schema]);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `PostgreSQL is required for this test but is unreachable (${reason}). Start it, point ` +
        "DATABASE_URL at one, or set SKIP_POSTGRES=1 to leave it out.",
      { cause: err },
    );
  } finally {
    await create.destroy();
  }
  return {
    choice: { type: "postgres" as const, url: withSearchPath(url, schema) },
    async messageMapRows() {
      const db = admin();
      try {
        const [row] = await db.withSchema(schema).table("bridge_message_map").count({ n: "*" });
        return Number(row?.n);
      } finally {
        await db.destroy();
      }
    },
    /** A connection to the schema (the caller destroys it). */
    connect(): Knex {
      return knexFactory({
        client: "pg",
        connection: withSearchPath(url, schema),
        pool: { min: 0, max: 2 },
      });
    },
    async drop() {
      const db = admin();
      try {
        await db.raw("DROP SCHEMA IF EXISTS ?? CASCADE", [schema]);
      } finally {
        await db.destroy();
      }
    },
  };
}
