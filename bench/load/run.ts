/**
 * `npm run bench:load [-- --quick] [--json FILE] [--messages N] [--no-postgres] [--keep]
 * [--profile DIR] [--portals 1,10,100] [--directions in,out,both]`:
 * the load bench, every part in its own process on loopback (stack.ts), driven from here by
 * many native and Matrix users (people.ts). Scenarios:
 *
 * - floor: the crypto + codec floor (`npm run bench`'s rows) with libsignal on in-memory
 *   stores as the first row, and the ratio of the store-backed rows to it;
 * - throughput: messages/s relayed at saturation, each way and both ways at once, over 1, 10
 *   and 100 portals, on SQLite and PostgreSQL, with the bridge's CPU time per message and
 *   its peak RSS;
 * - latency: p50/p99/max at fixed offered rates over 100 portals.
 *
 * Every run checks that everything sent arrived once and in order per portal, and the bench
 * exits non-zero when not. --quick (for CI) runs a small SQLite subset and asserts no timing.
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
import { cpuMs, memoryKb } from "./proc.js";
import { setUpPeople } from "./people.js";
import type { People } from "./people.js";
import { Stack } from "./stack.js";
import type { DatabaseChoice } from "./stack.js";
import { Sender, Tracker, percentile } from "./traffic.js";
import type { Delivery, Direction } from "./traffic.js";

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
  },
});
const SCENARIOS = ["floor", "throughput", "latency", "logins"] as const;
type Scenario = (typeof SCENARIOS)[number];
const only = new Set((values.only ?? SCENARIOS.join(",")).split(",").map((s) => s.trim()));
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

interface ThroughputRow {
  database: string;
  portals: number;
  direction: Direction | "both";
  messages: number;
  messagesPerSecond: number;
  cpuMsPerMessage: number;
  /** Database statements the bridge ran per message. */
  queriesPerMessage: number;
  peakRssMb: number;
  p50Ms: number;
  p99Ms: number;
  delivery: Delivery;
}

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

async function postgresDatabase(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  if (values["no-postgres"] || quick) return undefined;
  const admin = knex({ client: "pg", connection: PG_URL });
  try {
    await admin.raw("select 1");
  } catch {
    await admin.destroy();
    log(`(PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ":***@")} not reachable: skipped)`);
    return undefined;
  }
  const name = `gkb_load_${Date.now().toString(36)}`;
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

/** `n` messages as fast as the window allows, over the first `portals` portals. */
async function saturate(
  people: People,
  stack: Stack,
  database: string,
  portals: number,
  direction: Direction | "both",
  n: number,
): Promise<ThroughputRow> {
  const tracker = new Tracker();
  people.arrived = (text, at) => tracker.arrived(text, at);
  const sender = new Sender(people, tracker, Math.max(20, portals * 4));
  const bridgePid = stack.bridge!.pid;
  const cpuBefore = cpuMs(bridgePid);
  const queriesBefore = await stack.dbQueries();
  const started = Date.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const dir: Direction = direction === "both" ? (i % 2 === 0 ? "in" : "out") : direction;
    sends.push(sender.send(dir, i % portals));
  }
  await Promise.all(sends);
  await tracker.settle(30_000);
  const elapsed = Math.max(1, tracker.lastReceivedAt - started);
  const cpu = cpuMs(bridgePid) - cpuBefore;
  const queries = (await stack.dbQueries()) - queriesBefore;
  return {
    database,
    portals,
    direction,
    messages: n,
    messagesPerSecond: round((tracker.received * 1000) / elapsed),
    cpuMsPerMessage: round(cpu / Math.max(1, tracker.received), 3),
    queriesPerMessage: round(queries / Math.max(1, tracker.received)),
    peakRssMb: round(memoryKb(bridgePid).peakKb / 1024),
    p50Ms: percentile(tracker.latencies, 50),
    p99Ms: percentile(tracker.latencies, 99),
    delivery: tracker.delivery(),
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

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
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
        const row = await saturate(people, stack, label, portals, direction, MESSAGES);
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
const pg = relays ? await postgresDatabase() : undefined;
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
const all = [...results.throughput, ...results.latency];
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
