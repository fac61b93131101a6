import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../../src/db/index.js";
import type { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, eventually, nativeClient, newPhone } from "./helpers.js";

const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// Like every PostgreSQL test here: an unreachable server fails the run unless SKIP_POSTGRES=1
// says this machine has none, so CI can never skip these silently.
describe.skipIf(process.env.SKIP_POSTGRES === "1")("GatekeeperClient on PostgreSQL", () => {
  const schemas: string[] = [];
  const dbs: Knex[] = [];
  let sandbox: Sandbox;

  async function pgDb(): Promise<Knex> {
    const schema = `gkc_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    const db = await openDatabase({ type: "postgres", url: PG_URL, schema, poolMax: 4 });
    await migrate(db);
    dbs.push(db);
    return db;
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });

  afterAll(async () => {
    await sandbox.close();
    for (const db of dbs) await db.destroy();
    const admin = await openDatabase({ type: "postgres", url: PG_URL, poolMax: 1 });
    for (const s of schemas) await admin.raw("drop schema if exists ?? cascade", [s]);
    await admin.destroy();
  });

  it("exchanges messages and survives a redelivery with state in PostgreSQL", async () => {
    const alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    const bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
    const bobDb = await pgDb();
    const a: GatekeeperClient = nativeClient(sandbox, alice, await pgDb());
    const b: GatekeeperClient = nativeClient(sandbox, bob, bobDb);
    try {
      await a.start();
      await b.start();
      let fail = true;
      b.on("message", () => {
        if (fail) {
          fail = false;
          throw new Error("not yet");
        }
      });
      const atB = new Recorder(b, "message");
      const atA = new Recorder(a, "message");
      await a.sendMessage(bob.jid, textMessage("one"));
      await b.sendMessage(alice.jid, textMessage("two")).catch(() => undefined);
      await atA.waitFor(1);
      await b.stop();
      await b.start(); // "one" again, from the stored plaintext
      const got = await atB.waitFor(2);
      expect(got.map((m) => m.content.conversation)).toEqual(["one", "one"]);
      await a.sendMessage(bob.jid, textMessage("three"));
      expect((await atB.waitFor(3))[2]!.content.conversation).toBe("three");
      // Marked handled right after the handlers returned.
      await eventually(async () => {
        const rows = (await bobDb("gk_client_inbox").select("state", "plaintext")) as {
          state: string;
          plaintext: unknown;
        }[];
        return (
          rows.length === 2 && rows.every((r) => r.state === "handled" && r.plaintext === null)
        );
      });
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
