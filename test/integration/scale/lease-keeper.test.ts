/**
 * Login leases on PostgreSQL, several workers on one database (issue 12): each login is
 * owned by one worker at a time; the workers share them out; a dead worker's logins are
 * taken over once its leases expire; a worker that joins takes its share over a few rounds;
 * a worker that was paused past its leases holds nothing when it wakes, and its writes are
 * fenced out. Short leases (3 s) keep the test quick; production uses 20 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/logger.js";
import { LoginRepository } from "../../../src/db/repositories/index.js";
import { LeaseKeeper } from "../../../src/scale/lease-keeper.js";
import type { HeldLease } from "../../../src/scale/lease-store.js";
import { LeaseStore } from "../../../src/scale/lease-store.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";

const LEASE_MS = 3_000;
const RENEW_MS = 500;
const MARGIN_MS = 500;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Worker {
  id: string;
  keeper: LeaseKeeper;
  /** Logins it was told it owns, and not told it lost. */
  running: Set<string>;
  events: string[];
}

describe("login leases on PostgreSQL", () => {
  let t: TestDatabase;
  let store: LeaseStore;
  const workers: Worker[] = [];

  beforeAll(async () => {
    t = await openTestDatabase("postgres", { migrate: true });
    store = new LeaseStore(t.db);
    const logins = new LoginRepository(t.db);
    for (let i = 0; i < 30; i++) {
      const login = await logins.create({
        mxid: `@u${i}:test.local`,
        phone: `+49151200${String(i).padStart(5, "0")}`,
      });
      // Logged in (a login being logged in stays where it was made: see LeaseKeeper).
      await logins.setState(login.id, "connected");
    }
  });

  afterAll(async () => {
    for (const w of workers) await w.keeper.stop().catch(() => undefined);
    await t?.close();
  });

  function worker(id: string, clock?: () => number): Worker {
    const running = new Set<string>();
    const events: string[] = [];
    const keeper = new LeaseKeeper({
      store,
      workerId: id,
      role: "worker",
      leaseMs: LEASE_MS,
      renewMs: RENEW_MS,
      marginMs: MARGIN_MS,
      releasePerRound: 2,
      logger: silentLogger,
      ...(clock ? { clock } : {}),
      acquired: async (leases: readonly HeldLease[]) => {
        for (const lease of leases) {
          running.add(lease.loginId);
          events.push(`acquired ${lease.loginId}`);
        }
      },
      lost: async (loginId, why) => {
        running.delete(loginId);
        events.push(`lost ${loginId} ${why}`);
      },
    });
    const w = { id, keeper, running, events };
    workers.push(w);
    return w;
  }

  /** Every login is run by exactly one live worker, and the database agrees. */
  async function ownedOnce(live: Worker[]): Promise<void> {
    // One snapshot of who runs what (the workers' rounds go on while the database is read).
    const seen = new Map<string, string>();
    for (const w of live) {
      for (const login of w.running) {
        expect(seen.get(login), `${login} run by ${seen.get(login)} and ${w.id}`).toBeUndefined();
        seen.set(login, w.id);
      }
    }
    for (const [login, id] of seen) {
      const holder = (await store.holder(login))?.workerId;
      // Moved since the snapshot (given up, then taken by another): only ever by release.
      if (holder !== id) expect(live.find((w) => w.id === id)?.running.has(login)).toBe(false);
    }
  }

  async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
      await pause(50);
    }
  }

  it("three workers share thirty logins, ten each, each login once", async () => {
    const [a, b, c] = [worker("a"), worker("b"), worker("c")];
    await Promise.all([a, b, c].map((w) => w.keeper.start()));
    await until(() => [a, b, c].every((w) => w.running.size === 10), 10_000, "ten logins each");
    await ownedOnce([a, b, c]);
    expect([a, b, c].map((w) => w.keeper.stats().takeovers)).toEqual([0, 0, 0]);
  }, 20_000);

  it("a fourth worker takes its share over a few rounds, never a login twice", async () => {
    const [a, b, c] = workers;
    const d = worker("d");
    await d.keeper.start();
    const live = [a!, b!, c!, d];
    // ceil(30 / 4) = 8: the others give up two a round until they are at 8 or under.
    await until(
      async () => {
        await ownedOnce(live);
        return d.running.size >= 6 && live.every((w) => w.running.size <= 8);
      },
      10_000,
      "the fourth worker's share",
    );
    expect(live.reduce((n, w) => n + w.running.size, 0)).toBe(30);
    // Given up by the others and taken: handed over, nobody's lease ran out.
    expect(d.keeper.stats().acquired).toBeGreaterThan(0);
    expect(live.map((w) => w.keeper.stats().takeovers)).toEqual([0, 0, 0, 0]);
  }, 20_000);

  it("a dead worker's logins are taken over once its leases expire", async () => {
    const [a, b, c, d] = workers as [Worker, Worker, Worker, Worker];
    const orphans = [...d.running];
    expect(orphans.length).toBeGreaterThan(0);
    // "kill -9": no more rounds, nothing released.
    await d.keeper.freeze();
    const died = Date.now();
    await until(
      () => orphans.every((l) => [a, b, c].some((w) => w.running.has(l))),
      LEASE_MS + 5_000,
      "the orphans taken over",
    );
    const tookMs = Date.now() - died;
    expect(tookMs).toBeGreaterThan(LEASE_MS - RENEW_MS * 2 - 200); // not before they expired
    await ownedOnce([a, b, c]);
    expect([a, b, c].reduce((n, w) => n + w.running.size, 0)).toBe(30);
    const takeovers = [a, b, c].reduce((n, w) => n + w.keeper.stats().takeovers, 0);
    expect(takeovers).toBe(orphans.length);
  }, 20_000);

  it("a worker paused past its leases holds nothing when it wakes, and its writes are fenced", async () => {
    const [a, b, c] = workers as [Worker, Worker, Worker];
    let offset = 0;
    const paused = worker("p", () => performance.now() + offset);
    // Make room for it: a and b stop; p and c share the thirty.
    await a.keeper.stop();
    await b.keeper.stop();
    await paused.keeper.start();
    await until(() => paused.running.size === 15 && c.running.size === 15, 10_000, "p's share");
    const mine = [...paused.running];
    const old = paused.keeper.lease(mine[0]!)!;
    expect(old).toBeDefined();

    // "SIGSTOP": no rounds, while its leases expire and c takes everything.
    await paused.keeper.freeze();
    await until(() => c.running.size === 30, LEASE_MS + 5_000, "c holds all");
    offset += LEASE_MS; // the monotonic clock went on while it was stopped
    // Awake: it holds nothing before it could act, before any round ran.
    expect(paused.keeper.owned()).toEqual([]);
    expect(mine.every((l) => paused.keeper.lease(l) === undefined)).toBe(true);
    // A write with its old epoch is fenced out; c's goes through.
    const fenced = await t.db.transaction((trx) => store.fence(trx, "p", old));
    expect(fenced).toBe(false);
    const now = (await store.holder(old.loginId))!;
    expect(now.workerId).toBe("c");
    expect(now.epoch).toBeGreaterThan(old.epoch);
    expect(
      await t.db.transaction((trx) =>
        store.fence(trx, "c", { loginId: old.loginId, epoch: now.epoch }),
      ),
    ).toBe(true);
    // Its next round tells it what it lost.
    await paused.keeper.runRound();
    expect(paused.running.size).toBeLessThanOrEqual(15);
    for (const l of mine) expect(paused.events).toContain(`lost ${l} expired`);
  }, 30_000);

  it("rebalancing passes over logins that work runs for, and gives them up once it is done", async () => {
    for (const w of workers) await w.keeper.stop();
    const e = worker("e");
    await e.keeper.start();
    await until(() => e.running.size === 30, 10_000, "e holds all");
    expect(e.keeper.use("not-a-login-of-e")).toBeUndefined();
    // A command runs for every one of its logins (two pieces of work for the first).
    const mine = [...e.running];
    const done = new Map(mine.map((l) => [l, e.keeper.use(l)!]));
    const second = e.keeper.use(mine[0]!)!;
    const f = worker("f");
    await f.keeper.start();
    // Its share is 15, but nothing can be given: four rounds later it still holds all.
    await pause(RENEW_MS * 4);
    expect(e.running.size).toBe(30);
    expect(f.running.size).toBe(0);

    // Ten commands finish (the first login's only half): those ten, and no other, move.
    const freed = mine.slice(0, 11);
    for (const l of freed) done.get(l)!();
    await until(() => f.running.size === 10, 10_000, "f takes the freed logins");
    await pause(RENEW_MS * 2);
    expect([...f.running].sort()).toEqual(freed.slice(1).sort());
    expect(e.running.has(mine[0]!)).toBe(true);
    second();
    await until(() => f.running.has(mine[0]!), 10_000, "f takes the first once it is done");
    await ownedOnce([e, f]);
    expect([e, f].map((w) => w.keeper.stats().takeovers)).toEqual([0, 0]);
  }, 30_000);
});
