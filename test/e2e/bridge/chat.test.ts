/** Scenario 2 on the default database, SQLite (postgres.test.ts runs it on PostgreSQL). */
import { join } from "node:path";
import knexFactory from "knex";
import { chatScenario } from "./chat-scenario.js";

chatScenario("sqlite", async (dir) => ({
  choice: { type: "sqlite" },
  async messageMapRows() {
    // A second reader beside the bridge's connection (the file is in WAL mode).
    const db = knexFactory({
      client: "better-sqlite3",
      connection: { filename: join(dir, "bridge.sqlite") },
      useNullAsDefault: true,
    });
    try {
      const [row] = await db("bridge_message_map").count({ n: "*" });
      return Number(row?.n);
    } finally {
      await db.destroy();
    }
  },
  drop: async () => undefined,
}));
