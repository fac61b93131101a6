/**
 * A worker among several (issue 12): what a user's Matrix event asks of the network runs with
 * their login kept in the worker (`LoginOwnership.use`), and not at all once the login moved
 * to another worker: the core throws LoginMovedError before doing or saying anything, and the
 * intake leaves the event to the new holder (test/integration/scale/scoped-intake.test.ts).
 * The ownership here is a stand-in: which logins this "worker" holds is a set the test sets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/logger.js";
import { Logins } from "../../../src/core/logins.js";
import { LoginMovedError } from "../../../src/core/ownership.js";
import type { LoginOwnership } from "../../../src/core/ownership.js";
import { CoreFixture, newPhone } from "./fixture.js";

const ALICE = "@alice:test.local";

describe("a user's command in a worker that holds, or no longer holds, their login", () => {
  let f: CoreFixture;
  let room: string;
  let loginId: string;
  const held = new Set<string>();
  /** use() calls still open, by login. */
  const inUse = new Map<string, number>();

  const ownership: LoginOwnership = {
    workerId: "w1",
    owns: (id) => held.has(id),
    use: (id) => {
      if (!held.has(id)) return undefined;
      inUse.set(id, (inUse.get(id) ?? 0) + 1);
      return () => inUse.set(id, inUse.get(id)! - 1);
    },
    adopt: async (id) => {
      held.add(id);
      return true;
    },
    holder: async (id) => (held.has(id) ? { workerId: "w1", expiresInMs: 20_000 } : undefined),
    liveWorkers: async () => 2,
    exclusive: (_key, fn) => fn(),
  };

  beforeAll(async () => {
    f = await CoreFixture.start();
    room = await f.login(ALICE, newPhone());
    loginId = (await f.core.repos.logins.getByMxid(ALICE))!.id;
    // The same database, now as a worker holding Alice's login.
    await f.stopCore();
    held.add(loginId);
    await f.startCore({ ownership });
    await f.core.takeLogins([loginId]);
  }, 30_000);

  afterAll(async () => {
    await f?.close();
  });

  it("runs it with the login kept here until it is done", async () => {
    let duringCommand: number | undefined;
    const reply = f.matrix.sendNotice.bind(f.matrix);
    f.matrix.sendNotice = async (...args: Parameters<typeof reply>) => {
      duringCommand ??= inUse.get(loginId);
      return reply(...args);
    };
    try {
      const answer = await f.command(ALICE, room, "status");
      expect(answer.join("\n")).toContain("Bridge worker: w1 (one of 2 running).");
    } finally {
      f.matrix.sendNotice = reply;
    }
    expect(duringCommand).toBe(1);
    expect(inUse.get(loginId)).toBe(0);
  });

  it("does nothing, and says nothing, once the login moved to another worker", async () => {
    held.delete(loginId);
    const before = f.matrix.notices(room).length;
    await expect(f.write(ALICE, room, "status")).rejects.toBeInstanceOf(LoginMovedError);
    expect(f.matrix.notices(room).length).toBe(before);
  });

  it("verifies here a code another worker asked for, though this worker's connection had ended", async () => {
    held.add(loginId);
    const login = (await f.core.repos.logins.get(loginId))!;
    // The gatekeeper ended Alice's session, and she logs in again: her `login` went to
    // another worker, which could not keep her login (this one holds it) and asked for the
    // code from a connection of its own, which ended this one's.
    await f.core.repos.logins.setState(loginId, "logged-out");
    const other = f.newNetwork();
    const elsewhere = new Logins({
      repos: f.core.repos,
      network: other,
      logger: silentLogger,
      adopt: async () => false,
    });
    try {
      await elsewhere.begin(ALICE, login.phone);
    } finally {
      await other.stop();
    }
    // Ended for good here (no reconnect of its own).
    expect(["logged-out", "replaced"]).toContain(f.network.connectionState(loginId));
    // Her `verify` comes here, to the holder: it connects again and verifies.
    const { code } = await f.sandbox.admin.latestCode(login.phone);
    const [answer] = await f.command(ALICE, room, `verify ${code}`);
    expect(answer).toContain("logged in");
    expect(f.network.connectionState(loginId)).toBe("connected");
  });
});
