/** The SQL dialects the project's knex code is written for (SQLite by default, PostgreSQL for production). */
import type { Knex } from "knex";

export type DatabaseDialect = "sqlite" | "postgres";

/** Which SQL dialect a knex instance (or transaction) speaks. */
export function dialectOf(db: Knex): DatabaseDialect {
  const client: unknown = db.client;
  const dialect =
    typeof client === "object" && client !== null && "dialect" in client ? client.dialect : "";
  return dialect === "postgresql" ? "postgres" : "sqlite";
}

/**
 * The database's own clock, in ms since the epoch, as SQL: what leases and claims expire by,
 * so that processes on machines whose clocks differ agree on what has expired.
 */
export const NOW_MS_SQL: Readonly<Record<DatabaseDialect, string>> = {
  postgres: "(extract(epoch from clock_timestamp()) * 1000)::bigint",
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
};
