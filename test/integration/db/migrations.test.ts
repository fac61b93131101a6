import { describe, expect, it } from "vitest";
import { appliedMigrations, migrate, migrations, MIGRATIONS_TABLE } from "../../../src/db/index.js";
import type { Migration } from "../../../src/db/index.js";
import { testDatabases, useTestDatabase } from "./databases.js";

const SIGNAL_TABLES = [
  "signal_accounts",
  "signal_identities",
  "signal_sessions",
  "signal_prekeys",
  "signal_signed_prekeys",
  "signal_kyber_prekeys",
];

describe.each(testDatabases())("migrations on %s", (kind) => {
  const dbs = useTestDatabase(kind);

  it("creates every table on an empty database and records each step once", async () => {
    const db = await dbs.fresh();
    expect(await db.schema.hasTable("signal_sessions")).toBe(false);

    await migrate(db);

    for (const table of SIGNAL_TABLES) expect(await db.schema.hasTable(table)).toBe(true);
    expect(await appliedMigrations(db)).toEqual(migrations.map((m) => m.name));
  });

  it("runs a second time without changing schema or data", async () => {
    const db = await dbs.fresh();
    await migrate(db);
    await db("signal_prekeys").insert({
      owner: "a@interop",
      key_id: 1,
      record: Buffer.from([1, 2, 3]),
      created_at: 1,
    });

    await migrate(db);
    await migrate(db);

    expect(await appliedMigrations(db)).toEqual(migrations.map((m) => m.name));
    const rows = (await db("signal_prekeys").select("owner", "key_id")) as unknown[];
    expect(rows).toEqual([{ owner: "a@interop", key_id: 1 }]);
  });

  it("applies a later migration appended to the list, once", async () => {
    const db = await dbs.fresh();
    await migrate(db);
    let runs = 0;
    const extra: Migration = {
      name: "999_test_extra",
      async up(k) {
        runs += 1;
        await k.schema.createTable("test_extra", (t) => t.increments("id"));
      },
    };
    const extended = [...migrations, extra];

    await migrate(db, extended);
    await migrate(db, extended);

    expect(runs).toBe(1);
    expect(await db.schema.hasTable("test_extra")).toBe(true);
    expect(await appliedMigrations(db)).toEqual(extended.map((m) => m.name));
    expect(await db.schema.hasTable(MIGRATIONS_TABLE)).toBe(true);
  });

  it("refuses to run when the database knows a migration the code does not", async () => {
    const db = await dbs.fresh();
    const future: Migration = { name: "002_future", async up() {} };
    await migrate(db, [...migrations, future]);

    await expect(migrate(db)).rejects.toThrow(/002_future/);
  });
});
