/**
 * Saturation runs of the load bench: as many messages as the window lets through, and what
 * each process on the machine spent on them. CPU is read per process from /proc (proc.ts):
 * every bridge process (with several: the intake and each worker), the gatekeeper, the
 * homeserver, this driver, and with PostgreSQL the backends serving the bridge's database,
 * since on a small machine they all share the cores.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Knex } from "knex";
import type { People } from "./people.js";
import { cpuMs, memoryKb } from "./proc.js";
import type { Part } from "./proc.js";
import type { Stack } from "./stack.js";
import { Sender, Tracker, percentile } from "./traffic.js";
import type { Delivery, Direction } from "./traffic.js";

export interface ThroughputRow {
  database: string;
  portals: number;
  direction: Direction | "both";
  messages: number;
  messagesPerSecond: number;
  /** Every bridge process together. */
  cpuMsPerMessage: number;
  /** Database statements the bridge ran per message. */
  queriesPerMessage: number;
  /** Every bridge process together. */
  peakRssMb: number;
  p50Ms: number;
  p99Ms: number;
  delivery: Delivery;
}

/** One bridge process's share of a saturation run. */
export interface ProcessFigures {
  name: string;
  cpuMsPerMessage: number;
  peakRssMb: number;
}

/** CPU ms per message of the parts that are not the bridge (postgres: null on SQLite). */
export interface OthersCpu {
  gatekeeper: number;
  homeserver: number;
  driver: number;
  postgres: number | null;
}

export interface Saturation {
  row: ThroughputRow;
  /** The bridge (or intake) first, then the workers. */
  processes: ProcessFigures[];
  others: OthersCpu;
  /**
   * CPU ms per message of the whole stack (the bridge processes and the others): on a
   * machine of its own it relays `cores × 1000 ÷ this` messages a second.
   */
  stackCpuMsPerMessage: number;
  /**
   * Cores busy on average during the run: the whole machine, and this stack alone (the
   * bridge processes and the others above). The difference is load from outside the bench.
   */
  cores: { machine: number; stack: number; of: number };
}

/** CPU time so far (ms) of every process the bench watches, and of the whole machine. */
interface CpuReading {
  at: number;
  /** By part name: the bridge processes, "sandbox", "homeserver". */
  parts: Map<string, number>;
  driver: number;
  /** PostgreSQL backend pid → ms. */
  backends: Map<number, number>;
  machine: { busy: number; total: number };
}

async function readCpu(stack: Stack, postgres: Knex | undefined): Promise<CpuReading> {
  const parts = new Map<string, number>();
  for (const p of [...stack.bridgeParts(), stack.sandbox, stack.homeserver]) {
    parts.set(p.name, cpuMs(p.pid));
  }
  const backends = new Map<number, number>();
  if (postgres) {
    const { rows } = (await postgres.raw(
      "select pid from pg_stat_activity where datname = current_database()",
    )) as { rows: { pid: number }[] };
    for (const { pid } of rows) {
      // A backend may end between the query and the read.
      try {
        backends.set(pid, cpuMs(pid));
      } catch {
        /* gone */
      }
    }
  }
  const usage = process.cpuUsage();
  return {
    at: Date.now(),
    parts,
    driver: (usage.user + usage.system) / 1000,
    backends,
    machine: machineTicks(),
  };
}

/**
 * What each watched process spent between two readings, ms. PostgreSQL: the backends alive at
 * `after` (one that closed in between is not counted; the bridge's pool keeps its connections).
 */
function spent(before: CpuReading, after: CpuReading) {
  const part = (name: string): number =>
    (after.parts.get(name) ?? 0) - (before.parts.get(name) ?? 0);
  let postgres = 0;
  for (const [pid, ms] of after.backends) postgres += ms - (before.backends.get(pid) ?? 0);
  return { part, driver: after.driver - before.driver, postgres };
}

/**
 * `n` messages as fast as the window allows, over the first `portals` portals. With
 * `postgres` (a connection to the bridge's database), its backends' CPU is counted too.
 */
export async function saturate(
  people: People,
  stack: Stack,
  database: string,
  portals: number,
  direction: Direction | "both",
  n: number,
  postgres?: Knex,
): Promise<Saturation> {
  const tracker = new Tracker();
  people.arrived = (text, at) => tracker.arrived(text, at);
  const sender = new Sender(people, tracker, Math.max(20, portals * 4));
  const bridges = stack.bridgeParts();
  const before = await readCpu(stack, postgres);
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
  const gone = [...bridges, stack.sandbox, stack.homeserver].find((p) => p.exited);
  if (gone) throw new Error(`${gone.name} exited during the run; see ${gone.logFile}`);
  const after = await readCpu(stack, postgres);
  const cpu = spent(before, after);
  const queries = (await stack.dbQueries()) - queriesBefore;
  const received = Math.max(1, tracker.received);
  const perMessage = (ms: number): number => round(ms / received, 3);
  const peakMb = (p: Part): number => round(memoryKb(p.pid).peakKb / 1024);
  const bridgeMs = bridges.reduce((sum, p) => sum + cpu.part(p.name), 0);
  const othersMs = cpu.part("sandbox") + cpu.part("homeserver") + cpu.driver + cpu.postgres;
  const wallMs = Math.max(1, after.at - before.at);
  return {
    row: {
      database,
      portals,
      direction,
      messages: n,
      messagesPerSecond: round((tracker.received * 1000) / elapsed),
      cpuMsPerMessage: perMessage(bridgeMs),
      queriesPerMessage: round(queries / received),
      peakRssMb: round(bridges.reduce((sum, p) => sum + peakMb(p), 0)),
      p50Ms: percentile(tracker.latencies, 50),
      p99Ms: percentile(tracker.latencies, 99),
      delivery: tracker.delivery(),
    },
    processes: bridges.map((p) => ({
      name: p.name,
      cpuMsPerMessage: perMessage(cpu.part(p.name)),
      peakRssMb: peakMb(p),
    })),
    others: {
      gatekeeper: perMessage(cpu.part("sandbox")),
      homeserver: perMessage(cpu.part("homeserver")),
      driver: perMessage(cpu.driver),
      postgres: postgres ? perMessage(cpu.postgres) : null,
    },
    stackCpuMsPerMessage: perMessage(bridgeMs + othersMs),
    cores: {
      machine: round(
        ((after.machine.busy - before.machine.busy) /
          Math.max(1, after.machine.total - before.machine.total)) *
          availableParallelism(),
        2,
      ),
      stack: round((bridgeMs + othersMs) / wallMs, 2),
      of: availableParallelism(),
    },
  };
}

/**
 * CPU ms per second each bridge process, and PostgreSQL for the bridge's database, spend
 * with nothing to relay (lease rounds, heartbeats, polls), over `ms`.
 */
export async function idleCpu(
  stack: Stack,
  postgres: Knex | undefined,
  ms: number,
): Promise<{ processes: Map<string, number>; postgres: number | null }> {
  const before = await readCpu(stack, postgres);
  await new Promise((r) => setTimeout(r, ms));
  const after = await readCpu(stack, postgres);
  const cpu = spent(before, after);
  const perSecond = (v: number): number => round((v * 1000) / (after.at - before.at), 2);
  return {
    processes: new Map(stack.bridgeParts().map((p) => [p.name, perSecond(cpu.part(p.name))])),
    postgres: postgres ? perSecond(cpu.postgres) : null,
  };
}

/** The machine's CPU time so far, busy and in all (the first line of /proc/stat, in ticks). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.slice(1).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
