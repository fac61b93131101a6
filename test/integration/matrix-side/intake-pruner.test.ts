import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { afterEach, beforeEach, expect, it } from "vitest";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { MatrixIntakeRepository } from "../../../src/db/repositories/matrix-intake.js";
import { startIntakePruner } from "../../../src/matrix/intake-pruner.js";
import type { IntakeLog } from "../../../src/matrix/intake-worker.js";
import { textEvent } from "./fixture.js";

const silent: IntakeLog = { debug() {}, info() {}, warn() {}, error() {} };
const DAY = 24 * 3600_000;
let dir: string;
let db: Knex;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gkb-prune-"));
  db = await openDatabase({ type: "sqlite", filename: join(dir, "bridge.sqlite") });
  await migrate(db);
});

afterEach(async () => {
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});

it("forgets old txn ids and handled events, never queued or failed ones", async () => {
  const repo = new MatrixIntakeRepository(db);
  const old = Date.now() - 30 * DAY;
  await repo.storeTransaction(
    "old",
    [textEvent("!r:x", "$done", "a"), textEvent("!r:x", "$queued", "b")],
    old,
  );
  await repo.storeTransaction("old2", [textEvent("!r:x", "$failed", "c")], old);
  await repo.storeTransaction("new", [textEvent("!r:x", "$recent", "d")]);
  await repo.markDone((await repo.get("$done"))!.seq);
  await repo.markFailed((await repo.get("$failed"))!.seq, "x");
  await repo.markDone((await repo.get("$recent"))!.seq);

  const pruner = startIntakePruner(repo, { log: silent, keepMs: 7 * DAY });
  pruner.stop();
  // (The start-up pass may already have run; either way this pass leaves the same state.)
  await pruner.runOnce();
  expect(await repo.hasTransaction("old")).toBe(false);
  expect(await repo.hasTransaction("new")).toBe(true);
  expect(await repo.get("$done")).toBeUndefined();
  expect(await repo.get("$queued")).toMatchObject({ state: "queued" });
  expect(await repo.get("$failed")).toMatchObject({ state: "failed" });
  expect(await repo.get("$recent")).toMatchObject({ state: "done" });
});
