/**
 * Real databases for integration tests: a fresh SQLite file and a fresh PostgreSQL schema.
 *
 *   describe.each(testDatabases())("signal stores on %s", (kind) => {
 *     const dbs = useTestDatabase(kind);          // migrated db in dbs.db, dropped afterwards
 *     it("...", async () => { await dbs.db("signal_sessions")...; await dbs.fresh(); });
 *   });
 *
 * PostgreSQL: env DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test. If it is
 * unreachable the PostgreSQL variants FAIL, unless SKIP_POSTGRES=1 removes them, so a CI
 * run cannot skip them silently.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import knexFactory from "knex";
import type { Knex } from "knex";
import { afterAll, beforeAll } from "vitest";
import { openDatabase } from "../../../src/db/database.js";
import { migrate } from "../../../src/db/migrations/index.js";

export type TestDatabaseKind = "sqlite" | "postgres";

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

export function postgresUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** The databases every db-backed test runs on. */
export function testDatabases(): TestDatabaseKind[] {
  return process.env.SKIP_POSTGRES === "1" ? ["sqlite"] : ["sqlite", "postgres"];
}

export interface TestDatabase {
  kind: TestDatabaseKind;
  db: Knex;
  /** Closes the connection and removes the file / drops the schema. */
  close(): Promise<void>;
}

/** Opens an empty database of the given kind (not migrated unless asked). */
export async function openTestDatabase(
  kind: TestDatabaseKind,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const t = kind === "sqlite" ? await openSqlite() : await openPostgres();
  if (options.migrate) {
    try {
      await migrate(t.db);
    } catch (err) {
      await t.close();
      throw err;
    }
  }
  return t;
}

async function openSqlite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "gkb-test-"));
  const db = await openDatabase({ type: "sqlite", filename: join(dir, "bridge.sqlite") });
  return {
    kind: "sqlite",
    db,
    async close() {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(): Promise<TestDatabase> {
  const url = postgresUrl();
  const schema = `gkb_test_${randomBytes(6).toString("hex")}`;
  let db: Knex;
  try {
    db = await openDatabase({ type: "postgres", url, schema, poolMax: 4 });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `PostgreSQL is required for these tests but is unreachable (${reason}). ` +
        "Start it, point DATABASE_URL at one, or set SKIP_POSTGRES=1 to leave it out.",
      { cause: err },
    );
  }
  return {
    kind: "postgres",
    db,
    async close() {
      await db.destroy();
      // A separate short-lived connection: the test's own pool is gone by now.
      const admin = knexFactory({ client: "pg", connection: url, pool: { min: 0, max: 1 } });
      try {
        await admin.raw("DROP SCHEMA IF EXISTS ?? CASCADE", [schema]);
      } finally {
        await admin.destroy();
      }
    },
  };
}

export interface TestDatabaseHandle {
  readonly kind: TestDatabaseKind;
  /** The migrated database shared by the tests of this describe block. */
  readonly db: Knex;
  /** Another empty database of the same kind, closed after the block. */
  fresh(options?: { migrate?: boolean }): Promise<Knex>;
}

/**
 * Registers beforeAll/afterAll hooks that open one migrated database of `kind` for the
 * enclosing describe block and drop it afterwards.
 */
export function useTestDatabase(kind: TestDatabaseKind): TestDatabaseHandle {
  const opened: TestDatabase[] = [];
  let main: TestDatabase | undefined;
  beforeAll(async () => {
    main = await openTestDatabase(kind, { migrate: true });
    opened.push(main);
  });
  afterAll(async () => {
    const errors: unknown[] = [];
    for (const t of opened.splice(0).reverse()) {
      await t.close().catch((e: unknown) => errors.push(e));
    }
    if (errors.length > 0) throw errors[0];
  });
  return {
    kind,
    get db(): Knex {
      if (!main) throw new Error("test database not open yet (use it inside a test or hook)");
      return main.db;
    },
    async fresh(options = {}) {
      const t = await openTestDatabase(kind, options);
      opened.push(t);
      return t.db;
    },
  };
}
