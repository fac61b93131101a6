/**
 * `npm run bench:load [-- --quick] [--json FILE] [--messages N] [--no-postgres] [--keep]
 * [--profile DIR] [--portals 1,10,100] [--directions in,out,both] [--workers 1,2,4]`:
 * the load bench, every part in its own process on loopback (stack.ts), driven from here by
 * many native and Matrix users (people.ts). Scenarios:
 *
 * - floor: the crypto + codec floor (`npm run bench`'s rows) with libsignal on in-memory
 *   stores as the first row, and the ratio of the store-backed rows to it;
 * - throughput: messages/s relayed at saturation, each way and both ways at once, over 1, 10
 *   and 100 portals, on SQLite and PostgreSQL, with the bridge's CPU time per message and
 *   its peak RSS;
 * - latency: p50/p99/max at fixed offered rates over 100 portals;
 * - workers (only with --workers or --only workers): on PostgreSQL, one process doing
 *   everything, then an intake and 1, 2, 4… worker processes holding the logins by lease;
 *   messages/s both ways over 100 portals, CPU per message of every bridge process and of the
 *   rest of the stack, and how busy the machine's cores were.
 *
 * Every run checks that everything sent arrived once and in order per portal, and the bench
 * exits non-zero when not. --quick (for CI) runs a small SQLite subset and asserts no timing;
 * with --workers it still runs them on PostgreSQL, over 20 portals.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import knex from "knex";
import { runFloor } from "../floor.js";
import type { FloorResult } from "../floor.js";
import { loginsScenario } from "./logins.js";
import type { LoginsResult } from "./logins.js";
import { memoryKb } from "./proc.js";
import { setUpPeople } from "./people.js";
import type { People } from "./people.js";
import { round, saturate } from "./saturate.js";
import type { ThroughputRow } from "./saturate.js";
import { Stack } from "./stack.js";
import type { DatabaseChoice } from "./stack.js";
import { Sender, Tracker, percentile } from "./traffic.js";
import type { Delivery, Direction } from "./traffic.js";
import { workersRow } from "./workers.js";
import type { WorkersRow } from "./workers.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    messages: { type: "string" },
    "no-postgres": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    profile: { type: "string" },
    heap: { type: "string" },
    logins: { type: "string" },
    only: { type: "string" },
    portals: { type: "string" },
    directions: { type: "string" },
    workers: { type: "string" },
  },
});
const SCENARIOS = ["floor", "throughput", "latency", "logins", "workers"] as const;
type Scenario = (typeof SCENARIOS)[number];
// Several processes are not part of the default run: --workers (or --only workers) asks for them.
const only = new Set(
  (values.only ?? "floor,throughput,latency,logins").split(",").map((s) => s.trim()),
);
if (values.workers !== undefined) only.add("workers");
for (const name of only) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    process.stderr.write(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(", ")})\n`);
    process.exit(2);
  }
}
const runs = (s: Scenario): boolean => only.has(s);
const quick = values.quick === true;
const LOGINS = Number(values.logins ?? (quick ? 20 : 1000));
const MESSAGES = Number(values.messages ?? (quick ? 60 : 3000));
const PORTAL_COUNTS = values.portals
  ? values.portals.split(",").map(Number)
  : quick
    ? [1, 10]
    : [1, 10, 100];
const DIRECTIONS = (values.directions ?? "in,out,both").split(",") as (Direction | "both")[];
const RATES = quick ? [10] : [10, 100, 500];
const LATENCY_SECONDS = quick ? 3 : 10;
/** Sandbox limits for load: its defaults are a real gatekeeper's anti-spam limits. */
const SANDBOX_LIMITS = {
  messagesPerWindow: 1_000_000,
  newConversationsPerDay: 1_000_000,
  lookupContactsPerHour: 1_000_000,
  badFramesPerMinute: 1_000,
};
const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Worker processes per row of the workers scenario (a row with one process comes first). */
const WORKER_COUNTS = (values.workers ?? "1,2,4").split(",").map(Number);
if (WORKER_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write(
    `--workers: a list of worker counts, each 1 or more (got ${values.workers})\n`,
  );
  process.exit(2);
}
if (runs("workers") && values["no-postgres"]) {
  process.stderr.write("--workers: several bridge processes need PostgreSQL (not --no-postgres)\n");
  process.exit(2);
}
/** The workers scenario's portals, five per Matrix user: every worker gets logins. */
const WORKER_PORTALS = quick ? 20 : 100;

interface LatencyRow {
  database: string;
  ratePerSecond: number;
  portals: number;
  messages: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  delivery: Delivery;
}

const log = (line: string): void => void process.stdout.write(`${line}\n`);

/** A fresh database on the server at PG_URL; undefined when that server is not reachable. */
async function postgresDatabase(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const admin = knex({ client: "pg", connection: PG_URL });
  try {
    await admin.raw("select 1");
  } catch {
    await admin.destroy();
    log(`(PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ":***@")} not reachable: skipped)`);
    return undefined;
  }
  const name = `gkb_load_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  await admin.raw(`create database "${name}"`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.raw(`drop database if exists "${name}" with (force)`);
      await admin.destroy();
    },
  };
}

/** Messages at `rate` per second for `seconds`, round-robin over the portals, both ways. */
async function offered(
  people: People,
  database: string,
  rate: number,
  seconds: number,
): Promise<LatencyRow> {
  const tracker = new Tracker();
  people.arrived = (text, at) => tracker.arrived(text, at);
  const sender = new Sender(people, tracker, 10_000);
  const portals = people.portals.length;
  const n = Math.max(1, Math.round(rate * seconds));
  const started = Date.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sends.push(sender.send(i % 2 === 0 ? "in" : "out", i % portals));
  }
  await Promise.all(sends);
  await tracker.settle(30_000);
  return {
    database,
    ratePerSecond: rate,
    portals,
    messages: n,
    p50Ms: percentile(tracker.latencies, 50),
    p99Ms: percentile(tracker.latencies, 99),
    maxMs: Math.max(...tracker.latencies),
    delivery: tracker.delivery(),
  };
}

/** A run's folder goes unless --keep, or the run failed (its logs say why). */
function cleanUp(dir: string, failed: boolean): void {
  if (failed) log(`(the run's folder, with its logs, is kept: ${dir})`);
  else if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

async function runDatabase(
  database: DatabaseChoice,
  label: string,
  phoneBase: number,
): Promise<{ throughput: ThroughputRow[]; latency: LatencyRow[]; idleRssMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), `gkb-load-${label}-`));
  log(`\n[${label}] starting the stack in ${dir}`);
  const stack = await Stack.start({
    dir,
    database,
    sandboxLimits: SANDBOX_LIMITS,
    ...(values.profile ? { profileDir: values.profile } : {}),
  });
  const idleRssMb = round(memoryKb(stack.bridge!.pid).rssKb / 1024);
  let people: People | undefined;
  let failed = true;
  try {
    const most = Math.max(...PORTAL_COUNTS);
    log(`[${label}] setting up ${most} chats (logins through the bot, \`start\` for each)`);
    const setupStarted = Date.now();
    people = await setUpPeople(stack, { dir, portals: most, phoneBase });
    log(`[${label}] set up in ${round((Date.now() - setupStarted) / 1000)} s`);
    // One message each way per portal first: sessions are made, nothing is cold.
    await saturate(people, stack, label, most, "both", most * 2);
    const throughput: ThroughputRow[] = [];
    for (const portals of runs("throughput") ? PORTAL_COUNTS : []) {
      for (const direction of DIRECTIONS) {
        const { row } = await saturate(people, stack, label, portals, direction, MESSAGES);
        log(
          `[${label}] ${portals} portal(s), ${direction}: ${row.messagesPerSecond} msg/s, ` +
            `${row.cpuMsPerMessage} CPU ms/msg, lost ${row.delivery.lost}, doubled ${row.delivery.duplicated}`,
        );
        throughput.push(row);
      }
    }
    const latency: LatencyRow[] = [];
    for (const rate of runs("latency") ? RATES : []) {
      const row = await offered(people, label, rate, LATENCY_SECONDS);
      log(`[${label}] ${rate} msg/s offered: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms`);
      latency.push(row);
    }
    failed = false;
    return { throughput, latency, idleRssMb };
  } finally {
    await people?.close().catch(() => undefined);
    await stack.close();
    cleanUp(dir, failed);
  }
}

/** One row of the workers scenario, on a fresh database: `workers` workers, or 0: one process. */
async function runWorkers(workers: number): Promise<WorkersRow> {
  const pg = await postgresDatabase();
  if (!pg) throw new Error("the workers scenario needs PostgreSQL (DATABASE_URL)");
  const dir = mkdtempSync(join(tmpdir(), `gkb-load-workers${workers}-`));
  let failed = true;
  let stack: Stack | undefined;
  try {
    log(
      `\n[${workers === 0 ? "one process" : `${workers} worker(s)`}] starting the stack in ${dir}`,
    );
    stack = await Stack.start({
      dir,
      database: { type: "postgres", url: pg.url },
      sandboxLimits: SANDBOX_LIMITS,
      ...(workers > 0 ? { workers } : {}),
      ...(values.profile ? { profileDir: values.profile } : {}),
    });
    const row = await workersRow(stack, {
      workers,
      url: pg.url,
      portals: WORKER_PORTALS,
      messages: MESSAGES,
      dir,
      log,
    });
    const d = row.delivery;
    failed = d.lost + d.duplicated + d.outOfOrder > 0;
    return row;
  } finally {
    await stack?.close();
    cleanUp(dir, failed);
    await pg.drop();
  }
}

if (runs("floor")) log("floor: the crypto + codec floor, libsignal in memory and on each database");
const floor: FloorResult | undefined = runs("floor")
  ? await runFloor({
      messages: quick ? 50 : 2000,
      ...(quick || values["no-postgres"] ? { postgresUrl: false as const } : {}),
    })
  : undefined;
const results: { throughput: ThroughputRow[]; latency: LatencyRow[]; idleRssMb: number[] } = {
  throughput: [],
  latency: [],
  idleRssMb: [],
};
const relays = runs("throughput") || runs("latency");
if (relays) {
  const sqlite = await runDatabase({ type: "sqlite" }, "sqlite", 10_000);
  results.throughput.push(...sqlite.throughput);
  results.latency.push(...sqlite.latency);
  results.idleRssMb.push(sqlite.idleRssMb);
}
const pg = relays && !quick && !values["no-postgres"] ? await postgresDatabase() : undefined;
if (pg) {
  try {
    const r = await runDatabase({ type: "postgres", url: pg.url }, "postgres", 20_000);
    results.throughput.push(...r.throughput);
    results.latency.push(...r.latency);
  } finally {
    await pg.drop();
  }
}

let logins: LoginsResult | undefined;
if (runs("logins")) {
  const dir = mkdtempSync(join(tmpdir(), "gkb-load-logins-"));
  log(`\n[logins] starting the stack in ${dir}`);
  const stack = await Stack.start({
    dir,
    database: { type: "sqlite" },
    sandboxLimits: SANDBOX_LIMITS,
    ...(values.heap ? { heapDir: values.heap } : {}),
    ...(values.profile ? { profileDir: values.profile } : {}),
  });
  let failed = true;
  try {
    logins = await loginsScenario(stack, { logins: LOGINS, phoneBase: 30_000, log });
    failed = false;
  } finally {
    await stack.close();
    cleanUp(dir, failed);
  }
}

// With --quick too: a small run that still checks several processes deliver.
const workerRows: WorkersRow[] = [];
for (const workers of runs("workers") ? [0, ...WORKER_COUNTS] : []) {
  workerRows.push(await runWorkers(workers));
}

if (floor) {
  log(
    `\nFloor: one text message, encrypt + encode + decode + decrypt (${floor.messages} messages)\n`,
  );
  console.table(
    [floor.inMemory, ...floor.rows].map((r) => ({
      database: r.database,
      "µs/msg": r.perMessageUs,
      "× floor": r.timesFloor,
      "signal × floor": r.signalTimesFloor,
    })),
  );
}
if (logins) {
  log("\nLogins: idle logged-in users, and their reconnection after kill -9\n");
  console.table([
    {
      logins: logins.logins,
      "RSS 1 login MB": logins.rssMbOneLogin,
      "RSS all MB": logins.rssMbAll,
      "RSS all, restarted MB": logins.rssMbAllRestarted,
      "KB per idle login": logins.rssKbPerIdleLogin,
      "login all s": logins.loginSeconds,
      "reconnect all s": logins.reconnectSeconds,
      "reconnect CPU ms/login (bridge / gatekeeper)": `${logins.reconnectCpuMsPerLogin.bridge} / ${logins.reconnectCpuMsPerLogin.gatekeeper}`,
    },
  ]);
}
if (results.throughput.length > 0) {
  log("\nThroughput at saturation (messages/s relayed; CPU and RSS of the bridge process)\n");
  console.table(
    results.throughput.map((r) => ({
      database: r.database,
      portals: r.portals,
      direction: r.direction,
      "msg/s": r.messagesPerSecond,
      "CPU ms/msg": r.cpuMsPerMessage,
      "queries/msg": r.queriesPerMessage,
      "peak RSS MB": r.peakRssMb,
      "p50 ms": r.p50Ms,
      "p99 ms": r.p99Ms,
      lost: r.delivery.lost,
      doubled: r.delivery.duplicated,
      "out of order": r.delivery.outOfOrder,
    })),
  );
}
if (results.latency.length > 0) {
  log("\nLatency at fixed offered rates (both ways, end to end through every part)\n");
  console.table(
    results.latency.map((r) => ({
      database: r.database,
      "offered msg/s": r.ratePerSecond,
      portals: r.portals,
      messages: r.messages,
      "p50 ms": r.p50Ms,
      "p99 ms": r.p99Ms,
      "max ms": r.maxMs,
      lost: r.delivery.lost,
      doubled: r.delivery.duplicated,
    })),
  );
}
if (workerRows.length > 0) {
  const who = (r: WorkersRow): string | number =>
    r.workers === 0 ? "none: one process" : r.workers;
  log(
    `\nSeveral processes on PostgreSQL: both ways at saturation over ${WORKER_PORTALS} chats; ` +
      "CPU ms per message of all bridge processes, then of the rest of the stack\n",
  );
  console.table(
    workerRows.map((r) => ({
      workers: who(r),
      "msg/s": r.messagesPerSecond,
      "CPU ms/msg": r.cpuMsPerMessage,
      "postgres / gatekeeper / homeserver / driver": [
        r.othersCpuMsPerMessage.postgres,
        r.othersCpuMsPerMessage.gatekeeper,
        r.othersCpuMsPerMessage.homeserver,
        r.othersCpuMsPerMessage.driver,
      ].join(" / "),
      "stack CPU ms/msg": r.stackCpuMsPerMessage,
      "cores busy: stack / machine": `${r.cores.stack} / ${r.cores.machine} of ${r.cores.of}`,
      "queries/msg": r.queriesPerMessage,
      "p50 ms": r.p50Ms,
      "p99 ms": r.p99Ms,
      lost: r.delivery.lost,
      doubled: r.delivery.duplicated,
      "out of order": r.delivery.outOfOrder,
    })),
  );
  log("\nEach bridge process (bridge: the intake, or the one process)\n");
  console.table(
    workerRows.flatMap((r) =>
      r.processes.map((p) => ({
        workers: who(r),
        process: p.name,
        "CPU ms/msg": p.cpuMsPerMessage,
        "idle CPU ms/s": p.idleCpuMsPerSecond,
        "peak RSS MB": p.peakRssMb,
      })),
    ),
  );
}
const all = [...results.throughput, ...results.latency, ...workerRows];
const delivery = {
  lost: all.reduce((s, r) => s + r.delivery.lost, 0),
  duplicated: all.reduce((s, r) => s + r.delivery.duplicated, 0),
  outOfOrder: all.reduce((s, r) => s + r.delivery.outOfOrder, 0),
};
const best = (db: string): ThroughputRow | undefined =>
  results.throughput
    .filter((r) => r.database === db && r.direction === "both")
    .sort((a, b) => b.portals - a.portals)[0];
const at100 = results.latency.find((r) => r.ratePerSecond === 100 && r.database === "sqlite");
const json = {
  quick,
  floor: floor && {
    ratio: floor.ratio,
    ratioOf: floor.ratioOf,
    inMemoryUsPerMessage: floor.inMemory.perMessageUs,
    rows: [floor.inMemory, ...floor.rows].map((r) => ({
      database: r.database,
      usPerMessage: r.perMessageUs,
      timesFloor: r.timesFloor,
      signalTimesFloor: r.signalTimesFloor,
    })),
  },
  logins: logins ?? null,
  throughput: {
    sqlite: {
      messagesPerSecond: best("sqlite")?.messagesPerSecond ?? null,
      cpuMsPerMessage: best("sqlite")?.cpuMsPerMessage ?? null,
    },
    postgres: { messagesPerSecond: best("postgres")?.messagesPerSecond ?? null },
    rows: results.throughput,
  },
  latency: { at100: { p99Ms: at100?.p99Ms ?? null }, rows: results.latency },
  workers: workerRows,
  // With one login, idle (the logins scenario), else just after the start with none.
  idle: { rssMb: logins?.rssMbOneLogin ?? results.idleRssMb[0] ?? null },
  delivery,
};
if (values.json) writeFileSync(values.json, `${JSON.stringify(json, null, 2)}\n`);
log(
  `\ndelivery: ${delivery.lost} lost, ${delivery.duplicated} doubled, ${delivery.outOfOrder} out of order`,
);
if (delivery.lost + delivery.duplicated + delivery.outOfOrder > 0) {
  log("FAILED: not everything arrived exactly once and in order");
  process.exitCode = 1;
}
