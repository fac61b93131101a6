import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { AccountRepository } from "../../../src/gatekeeper/client/account-repository.js";
import { InboxRepository } from "../../../src/gatekeeper/client/inbox-repository.js";
import { SentRepository } from "../../../src/gatekeeper/client/sent-repository.js";

describe("client repositories (SQLite)", () => {
  let dir: string;
  let db: Knex;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "gk-client-repo-"));
    db = await openDatabase({ type: "sqlite", filename: join(dir, "db.sqlite") });
    await migrate(db);
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps one Noise key pair per account", async () => {
    const a = new AccountRepository(db, "native:a");
    const first = await a.noiseKeyPair();
    expect(first.privateKey).toHaveLength(32);
    expect(await new AccountRepository(db, "native:a").noiseKeyPair()).toEqual(first);
    expect((await new AccountRepository(db, "native:b").noiseKeyPair()).publicKey).not.toEqual(
      first.publicKey,
    );
  });

  it("stores pending content with the transaction, drops it once handled, keeps the id", async () => {
    const inbox = new InboxRepository(db, "me@lid.gk");
    const rolledBack = db.transaction(async (trx) => {
      await inbox.putPending(trx, {
        sender: "s",
        id: "A1",
        retry: 0,
        plaintext: new Uint8Array([1]),
        t: 1,
        offline: false,
      });
      throw new Error("decrypt failed later");
    });
    await expect(rolledBack).rejects.toThrow();
    expect(await inbox.get("s", "A1")).toBeUndefined();

    await db.transaction((trx) =>
      inbox.putPending(trx, {
        sender: "s",
        id: "A1",
        retry: 0,
        plaintext: new Uint8Array([1, 2]),
        t: 5,
        offline: true,
      }),
    );
    expect(await inbox.get("s", "A1")).toMatchObject({
      state: "pending",
      plaintext: new Uint8Array([1, 2]),
      t: 5,
      offline: true,
    });
    await inbox.markHandled("s", "A1");
    expect(await inbox.get("s", "A1")).toMatchObject({ state: "handled", plaintext: null });
    expect(await new InboxRepository(db, "other@lid.gk").get("s", "A1")).toBeUndefined();

    await inbox.putFailed({ sender: "s", id: "B2", retry: 1, t: 6, offline: false });
    expect(await inbox.prune(Date.now() + 1)).toBe(2);
    expect(await inbox.get("s", "A1")).toBeUndefined();
  });

  it("keeps the first content recorded for a sent id and counts retries", async () => {
    const sent = new SentRepository(db, "me@lid.gk");
    await sent.record("peer", "M1", new Uint8Array([9]));
    await sent.record("peer", "M1", new Uint8Array([8]));
    expect(await sent.get("peer", "M1")).toMatchObject({
      content: new Uint8Array([9]),
      retryCount: 0,
    });
    await sent.setRetryCount("peer", "M1", 2);
    expect((await sent.get("peer", "M1"))?.retryCount).toBe(2);
    expect(await sent.prune(Date.now() - 60_000)).toBe(0);
    expect(await sent.prune(Date.now() + 1)).toBe(1);
  });
});
