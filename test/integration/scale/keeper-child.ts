/**
 * A worker process for lease-sigstop.test.ts: holds login leases on the given PostgreSQL
 * schema and, every 20 ms, "acts" on each login it holds (one line per login on stdout), as
 * a worker drains a login's outbox. Lines: `acquired L E`, `lost L WHY`, `act L E`.
 *
 *   node --import tsx keeper-child.ts <postgres url> <schema> <worker id>
 */
import { openDatabase } from "../../../src/db/database.js";
import { silentLogger } from "../../../src/core/logger.js";
import { LeaseKeeper } from "../../../src/scale/lease-keeper.js";
import { LeaseStore } from "../../../src/scale/lease-store.js";

const [url, schema, workerId] = process.argv.slice(2);
if (!url || !schema || !workerId) throw new Error("usage: keeper-child.ts URL SCHEMA WORKER");

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const db = await openDatabase({ type: "postgres", url, schema, poolMax: 2 });
const keeper = new LeaseKeeper({
  store: new LeaseStore(db),
  workerId,
  role: "worker",
  leaseMs: 3_000,
  renewMs: 500,
  marginMs: 500,
  logger: silentLogger,
  acquired: async (leases) => {
    for (const lease of leases) say(`acquired ${lease.loginId} ${lease.epoch}`);
  },
  lost: async (loginId, why) => say(`lost ${loginId} ${why}`),
});
await keeper.start();
say("started");
setInterval(() => {
  for (const loginId of keeper.owned()) {
    const lease = keeper.lease(loginId);
    if (lease) say(`act ${lease.loginId} ${lease.epoch}`);
  }
}, 20);
process.on("SIGTERM", () => {
  void keeper.stop().then(() => db.destroy().then(() => process.exit(0)));
});
