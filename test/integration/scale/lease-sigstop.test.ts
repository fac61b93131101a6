/**
 * Fencing with a real pause (issue 12): a worker process holding logins is stopped with
 * SIGSTOP past its leases, another worker takes the logins over, and the first is resumed
 * with SIGCONT. From the moment it wakes it must not act on any login it lost: every "act"
 * it prints after waking is on a lease it acquired after waking.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/logger.js";
import { LoginRepository } from "../../../src/db/repositories/index.js";
import { LeaseKeeper } from "../../../src/scale/lease-keeper.js";
import { LeaseStore } from "../../../src/scale/lease-store.js";
import { openTestDatabase, postgresUrl } from "../db/databases.js";
import type { TestDatabase } from "../db/databases.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "../../..");
const LOGINS = 20;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a worker paused (SIGSTOP) past its leases", () => {
  let t: TestDatabase;
  let child: ChildProcess | undefined;
  let keeper: LeaseKeeper | undefined;
  const lines: string[] = [];
  const mine = new Set<string>();

  beforeAll(async () => {
    t = await openTestDatabase("postgres", { migrate: true });
    const logins = new LoginRepository(t.db);
    for (let i = 0; i < LOGINS; i++) {
      const login = await logins.create({
        mxid: `@s${i}:test.local`,
        phone: `+4915130${String(i).padStart(6, "0")}`,
      });
      // Logged in (a login being logged in stays where it was made: see LeaseKeeper).
      await logins.setState(login.id, "connected");
    }
  });

  afterAll(async () => {
    child?.kill("SIGCONT");
    child?.kill("SIGTERM");
    await keeper?.stop();
    await t?.close();
  });

  async function until(check: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end)
        throw new Error(`not within ${ms} ms: ${what}; child said ${lines.slice(-5).join(" | ")}`);
      await pause(20);
    }
  }

  it("acts on nothing it lost once it wakes, and learns at once what it lost", async () => {
    const schema = ((await t.db.raw("select current_schema() as s")) as { rows: { s: string }[] })
      .rows[0]!.s;
    child = spawn(
      process.execPath,
      ["--import", "tsx", join(HERE, "keeper-child.ts"), postgresUrl(), schema, "paused"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    let partial = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      const text = partial + chunk.toString("utf8");
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        const [what, login] = line.split(" ");
        if (what === "acquired") mine.add(login!);
        if (what === "lost") mine.delete(login!);
      }
    });
    await until(() => mine.size === LOGINS, 30_000, "the child holds every login");

    // A second worker: they share the logins.
    const held = new Map<string, number>();
    keeper = new LeaseKeeper({
      store: new LeaseStore(t.db),
      workerId: "other",
      role: "worker",
      leaseMs: 3_000,
      renewMs: 500,
      marginMs: 500,
      logger: silentLogger,
      acquired: async (leases) => {
        for (const lease of leases) held.set(lease.loginId, lease.epoch);
      },
      lost: async (loginId) => void held.delete(loginId),
    });
    await keeper.start();
    await until(() => held.size === LOGINS / 2 && mine.size === LOGINS / 2, 15_000, "halves");

    const lost = [...mine];
    child.kill("SIGSTOP");
    await until(() => held.size === LOGINS, 10_000, "the other worker takes over");
    const takenAt = new Map(held);
    const before = lines.length;
    child.kill("SIGCONT");
    await pause(2_000);
    const after = lines.slice(before);

    // It learnt it lost each of them...
    for (const login of lost) expect(after).toContain(`lost ${login} expired`);
    // ...and acted only on leases it acquired after waking (the rebalance gives some back).
    const acquiredAfter = new Set(
      after.filter((l) => l.startsWith("acquired ")).map((l) => l.slice("acquired ".length)),
    );
    const stale = after
      .filter((l) => l.startsWith("act "))
      .filter((l) => !acquiredAfter.has(l.slice("act ".length)));
    expect(stale).toEqual([]);
    // Every login it lost has a newer epoch than it had.
    for (const login of lost) expect(takenAt.get(login)).toBeGreaterThan(1);
  }, 60_000);
});
