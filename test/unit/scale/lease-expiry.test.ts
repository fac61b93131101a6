/**
 * A worker whose rounds stop renewing (the database away) gives its logins up the moment
 * their leases stop counting, without waiting for a round that may never come.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/logger.js";
import { LeaseKeeper } from "../../../src/scale/lease-keeper.js";
import type { HeldLease, LeaseStore } from "../../../src/scale/lease-store.js";

/** A store that hands out two logins, then fails every call (the database went away). */
function failingStore(): { store: LeaseStore; fail(): void } {
  let down = false;
  const maybe = async <T>(value: T): Promise<T> => {
    if (down) throw new Error("connection refused");
    return value;
  };
  let claimed = false;
  const store = {
    heartbeat: () => maybe(true),
    renew: (_w: string, held: readonly HeldLease[]) => maybe(held.map((h) => h.loginId)),
    liveWorkers: () => maybe(1),
    activeLogins: () => maybe(2),
    claim: () => {
      const leases = claimed ? [] : ["a", "b"].map((loginId) => ({ loginId, epoch: 1 }));
      claimed = true;
      return maybe(leases);
    },
    release: () => maybe(undefined),
    retire: () => maybe(undefined),
  } as unknown as LeaseStore;
  return { store, fail: () => (down = true) };
}

describe("a lease that stops being renewed", () => {
  it("is given up when it stops counting, not at the next round", async () => {
    const { store, fail } = failingStore();
    const lost: { id: string }[] = [];
    const keeper = new LeaseKeeper({
      store,
      workerId: "w",
      role: "worker",
      leaseMs: 600,
      renewMs: 200,
      marginMs: 100,
      logger: silentLogger,
      acquired: async () => undefined,
      lost: async (id) => void lost.push({ id }),
    });
    await keeper.start();
    expect(keeper.owned().sort()).toEqual(["a", "b"]);
    fail();
    // No round can renew now, and a failing round gives nothing up (it cannot tell): only
    // the expiry timer does. Timers run late on a loaded machine, so no bound is asserted.
    const until = Date.now() + 10_000;
    while (lost.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(lost.map((l) => l.id).sort()).toEqual(["a", "b"]);
    expect(keeper.owned()).toEqual([]);
    expect(keeper.stats().lost).toBe(2);
    await keeper.stop();
  });
});
