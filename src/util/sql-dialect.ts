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
