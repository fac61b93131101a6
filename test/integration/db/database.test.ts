import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DatabaseError,
  dialectOf,
  migrate,
  openDatabase,
  redactUrl,
} from "../../../src/db/index.js";
import { postgresUrl, testDatabases } from "./databases.js";

// Knex warns about the failed connection; those tests expect the failure.
const quiet = { warn: () => undefined };

async function pragma(
  db: Awaited<ReturnType<typeof openDatabase>>,
  name: string,
): Promise<unknown> {
  const rows = (await db.raw(`PRAGMA ${name}`)) as Record<string, unknown>[];
  return Object.values(rows[0] ?? {})[0];
}

describe("openDatabase with SQLite", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gkb-open-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens a file in WAL mode with foreign keys enforced and a busy timeout", async () => {
    const db = await openDatabase({ type: "sqlite", filename: join(dir, "a.sqlite") });
    try {
      expect(dialectOf(db)).toBe("sqlite");
      expect(await pragma(db, "journal_mode")).toBe("wal");
      expect(await pragma(db, "foreign_keys")).toBe(1);
      expect(Number(await pragma(db, "busy_timeout"))).toBeGreaterThan(0);
      await db.schema.createTable("parent", (t) => t.integer("id").primary());
      await db.schema.createTable("child", (t) => t.integer("parent_id").references("parent.id"));
      await expect(db("child").insert({ parent_id: 42 })).rejects.toThrow(/FOREIGN KEY/);
    } finally {
      await db.destroy();
    }
  });

  it("keeps data in a file across reopening", async () => {
    const filename = join(dir, "b.sqlite");
    const first = await openDatabase({ type: "sqlite", filename });
    await migrate(first);
    await first("signal_prekeys").insert({
      owner: "o",
      key_id: 7,
      record: Buffer.from([9]),
      created_at: 1,
    });
    await first.destroy();

    const second = await openDatabase({ type: "sqlite", filename });
    try {
      await migrate(second);
      const row = (await second("signal_prekeys").where({ owner: "o" }).first()) as {
        record: Buffer;
      };
      expect([...row.record]).toEqual([9]);
    } finally {
      await second.destroy();
    }
  });

  it("supports :memory: (one connection, so the data stays)", async () => {
    const db = await openDatabase({ type: "sqlite", filename: ":memory:" });
    try {
      await migrate(db);
      await db("signal_prekeys").insert({
        owner: "o",
        key_id: 1,
        record: Buffer.from([1]),
        created_at: 1,
      });
      expect(await db("signal_prekeys").count({ n: "*" })).toEqual([{ n: 1 }]);
    } finally {
      await db.destroy();
    }
  });

  it("fails with connect-failed when the file cannot be created", async () => {
    const err = await openDatabase(
      {
        type: "sqlite",
        filename: join(dir, "missing-dir", "x.sqlite"),
      },
      { logger: quiet },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe("connect-failed");
  });
});

describe.runIf(testDatabases().includes("postgres"))("openDatabase with PostgreSQL", () => {
  it("rejects an unsafe schema name before connecting", async () => {
    await expect(
      openDatabase({ type: "postgres", url: postgresUrl(), schema: 'x"; drop table y; --' }),
    ).rejects.toMatchObject({ code: "invalid-config" });
  });

  it("creates the schema when missing and keeps tables inside it", async () => {
    const schema = `gkb_open_${process.pid}_${Date.now()}`;
    const db = await openDatabase({ type: "postgres", url: postgresUrl(), schema });
    try {
      expect(dialectOf(db)).toBe("postgres");
      await migrate(db);
      const tables = (await db("information_schema.tables")
        .where({ table_schema: schema })
        .pluck("table_name")) as string[];
      expect(tables).toEqual(expect.arrayContaining(["signal_sessions", "gkb_migrations"]));
    } finally {
      await db.raw("DROP SCHEMA IF EXISTS ?? CASCADE", [schema]);
      await db.destroy();
    }
  });

  it("does not put the password of a URL into its error message", async () => {
    const err = await openDatabase(
      {
        type: "postgres",
        url: "postgres://someone:s3cret@127.0.0.1:1/none",
      },
      { logger: quiet },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as Error).message).not.toContain("s3cret");
    expect(redactUrl("postgres://u:pw@h/db")).toBe("postgres://u:***@h/db");
  });
});
