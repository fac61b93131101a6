/**
 * The workers scenario (issue 12): the bridge as an intake and N worker processes on one
 * PostgreSQL, the logins held by lease, each login's messages handled by the worker holding
 * it. One row per stack: chats over many Matrix users (so every worker holds logins), the
 * logins left to spread until no worker moves any, a warm-up, then messages both ways at
 * saturation, with every process's CPU: on a small machine the bridge's processes share the
 * cores with the gatekeeper, the homeserver, PostgreSQL and this driver.
 */
import knex from "knex";
import type { Knex } from "knex";
import { setUpPeople } from "./people.js";
import type { People } from "./people.js";
import { waitUntil } from "./proc.js";
import { idleCpu, round, saturate } from "./saturate.js";
import type { OthersCpu, ProcessFigures, Saturation } from "./saturate.js";
import type { Stack } from "./stack.js";
import type { Delivery } from "./traffic.js";

export interface WorkersRow {
  /** Worker processes besides the intake; 0: one process doing everything. */
  workers: number;
  portals: number;
  logins: number;
  messages: number;
  messagesPerSecond: number;
  /** Every bridge process together (the intake and the workers). */
  cpuMsPerMessage: number;
  queriesPerMessage: number;
  /** Each bridge process, the intake (or the one process) first; idle: CPU ms per second. */
  processes: (ProcessFigures & { idleCpuMsPerSecond: number })[];
  /** The rest of the stack on the same cores (postgres: its backends for this database). */
  othersCpuMsPerMessage: OthersCpu;
  /** All of the stack's, bridge and others: what a message costs the machine. */
  stackCpuMsPerMessage: number;
  /** PostgreSQL's CPU ms per second for this database with nothing to relay. */
  postgresIdleCpuMsPerSecond: number | null;
  cores: Saturation["cores"];
  /** From the people's setup until every worker held its share of the logins. */
  spreadSeconds: number;
  p50Ms: number;
  p99Ms: number;
  delivery: Delivery;
}

export interface WorkersOptions {
  /** As the stack was started with; 0: one process. */
  workers: number;
  /** The bridge's database (the stack's). */
  url: string;
  portals: number;
  messages: number;
  dir: string;
  log: (line: string) => void;
}

/**
 * How long the processes are watched with nothing to relay: under the homeserver's 5 s
 * keep-alive (Node's default), so that the driver's next sends do not meet connections it
 * is closing.
 */
const IDLE_MS = 3_000;

/** One row on a started stack (`stack.bridge` and, with workers, `stack.workers`). */
export async function workersRow(stack: Stack, o: WorkersOptions): Promise<WorkersRow> {
  const label = o.workers === 0 ? "one process" : `${o.workers} worker(s)`;
  const db = knex({ client: "pg", connection: o.url, pool: { min: 1, max: 1 } });
  let people: People | undefined;
  try {
    o.log(`[${label}] setting up ${o.portals} chats, 5 per Matrix user`);
    const started = Date.now();
    people = await setUpPeople(stack, {
      dir: o.dir,
      portals: o.portals,
      perUser: 5,
      phoneBase: 40_000,
    });
    if (o.workers > 0) await waitForSpread(db, o.workers, 120_000);
    const spreadSeconds = round((Date.now() - started) / 1000);
    o.log(`[${label}] set up and spread in ${spreadSeconds} s`);
    // One message each way per portal first: sessions are made, nothing is cold.
    const warm = await saturate(people, stack, label, o.portals, "both", o.portals * 2);
    const w = warm.row.delivery;
    if (w.lost + w.duplicated + w.outOfOrder > 0) {
      throw new Error(
        `the warm-up lost ${w.lost}, doubled ${w.duplicated}, reordered ${w.outOfOrder}`,
      );
    }
    const idle = await idleCpu(stack, db, IDLE_MS);
    const run = await saturate(people, stack, label, o.portals, "both", o.messages, db);
    const row: WorkersRow = {
      workers: o.workers,
      portals: o.portals,
      logins: people.matrixUsers.length,
      messages: o.messages,
      messagesPerSecond: run.row.messagesPerSecond,
      cpuMsPerMessage: run.row.cpuMsPerMessage,
      queriesPerMessage: run.row.queriesPerMessage,
      processes: run.processes.map((p) => ({
        ...p,
        idleCpuMsPerSecond: idle.processes.get(p.name) ?? NaN,
      })),
      othersCpuMsPerMessage: run.others,
      stackCpuMsPerMessage: run.stackCpuMsPerMessage,
      postgresIdleCpuMsPerSecond: idle.postgres,
      cores: run.cores,
      spreadSeconds,
      p50Ms: run.row.p50Ms,
      p99Ms: run.row.p99Ms,
      delivery: run.row.delivery,
    };
    o.log(
      `[${label}] ${row.messagesPerSecond} msg/s, ${row.cpuMsPerMessage} CPU ms/msg over ` +
        `${row.processes.length} bridge process(es); cores busy: ${row.cores.stack} by the ` +
        `stack, ${row.cores.machine} in all, of ${row.cores.of}; lost ${row.delivery.lost}, ` +
        `doubled ${row.delivery.duplicated}, out of order ${row.delivery.outOfOrder}`,
    );
    return row;
  } finally {
    await people?.close().catch(() => undefined);
    await db.destroy();
  }
}

/**
 * Until every login is held by a live lease and no worker holds more than its share
 * (ceil(logins / workers)): from then on the workers move nothing, so no login changes
 * hands during the measured runs.
 */
async function waitForSpread(db: Knex, workers: number, timeoutMs: number): Promise<void> {
  let last = "";
  try {
    await waitUntil(
      "every worker to hold its share of the logins",
      async () => {
        const { rows } = (await db.raw(
          `select case when b.expires_at > (extract(epoch from clock_timestamp()) * 1000)
             then b.worker_id end as worker
           from bridge_logins l left join bridge_login_leases b on b.login_id = l.id
           where l.state <> 'logged-out'`,
        )) as { rows: { worker: string | null }[] };
        const held = new Map<string, number>();
        for (const { worker } of rows) {
          held.set(worker ?? "nobody", (held.get(worker ?? "nobody") ?? 0) + 1);
        }
        last = JSON.stringify(Object.fromEntries([...held].sort()));
        const share = Math.ceil(rows.length / workers);
        return (
          !held.has("nobody") &&
          held.size === workers &&
          [...held.values()].every((n) => n <= share)
        );
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (logins held: ${last})`);
  }
}
