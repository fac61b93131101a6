/**
 * Scenario 2 with the bridge on PostgreSQL (database.type: postgres), in a fresh schema
 * chosen the way an admin can with a URL alone (`options=-c search_path=...`), dropped
 * afterwards. DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) says where;
 * SKIP_POSTGRES=1 leaves it out, as for the integration tests.
 */
import { describe } from "vitest";
import { chatScenario } from "./chat-scenario.js";
import { freshSchema } from "./postgres-schema.js";

if (process.env.SKIP_POSTGRES === "1") {
  describe.skip("chat with formatted text both ways (postgres)", () => undefined);
} else {
  chatScenario("postgres", freshSchema);
}
