/**
 * Which logins a worker's round claims on PostgreSQL (LeaseStore.claim): not one that a
 * `login` on another worker has just made and is about to keep (the user's `verify` is to
 * reach the connection that sent the code), yet one whose maker died before keeping it, once
 * a lease's time has passed; and a logged-in login nobody holds at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoginRepository } from "../../../src/db/repositories/index.js";
import { LeaseStore } from "../../../src/scale/lease-store.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";

const LEASE_MS = 3_000;

const suite = process.env.SKIP_POSTGRES === "1" ? describe.skip : describe;

suite("claiming logins nobody holds (PostgreSQL)", () => {
  let t: TestDatabase;
  let store: LeaseStore;
  let logins: LoginRepository;
  let made = 0;

  beforeAll(async () => {
    t = await openTestDatabase("postgres", { migrate: true });
    store = new LeaseStore(t.db);
    logins = new LoginRepository(t.db);
  });

  afterAll(async () => {
    await t?.close();
  });

  /** A login as `login <phone>` makes it (enlisting), optionally made `ago` ms ago. */
  async function newLogin(ago = 0): Promise<string> {
    made += 1;
    const login = await logins.create({
      mxid: `@claim${made}:test.local`,
      phone: `+49151300${String(made).padStart(5, "0")}`,
    });
    if (ago > 0) {
      await t
        .db("bridge_logins")
        .where({ id: login.id })
        .update({ updated_at: Date.now() - ago });
    }
    return login.id;
  }

  it("leaves a login that is being made to its maker, who keeps it", async () => {
    const id = await newLogin();
    expect((await logins.get(id))?.state).toBe("enlisting");
    expect(await store.claim("b", 10, LEASE_MS)).toEqual([]);
    expect(await store.claimOne("a", id, LEASE_MS)).toEqual({ loginId: id, epoch: 1 });
    expect((await store.holder(id))?.workerId).toBe("a");
  });

  it("takes one whose maker never kept it, once a lease's time has passed", async () => {
    const id = await newLogin(LEASE_MS + 1_000);
    expect(await store.claim("b", 10, LEASE_MS)).toEqual([{ loginId: id, epoch: 1 }]);
  });

  it("takes a logged-in login nobody holds at once", async () => {
    const id = await newLogin();
    await logins.setState(id, "connected");
    expect(await store.claim("b", 10, LEASE_MS)).toEqual([{ loginId: id, epoch: 1 }]);
  });
});
