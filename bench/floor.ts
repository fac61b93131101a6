/**
 * The pipeline on every database next to libsignal with in-memory stores, the physical
 * floor of the cryptography, and how far each store-backed row is above it. Issue 9's goal:
 * store-backed Signal encrypt + decrypt within FLOOR_GOAL× of the floor in the same run.
 */
import { randomBytes } from "node:crypto";
import { openDatabase, redactUrl } from "../src/db/index.js";
import { InMemorySignalAccount } from "./in-memory-signal.js";
import {
  ALICE,
  BOB,
  measure,
  pairEnds,
  runPipeline,
  sqliteTempConfig,
  type PipelineResult,
  type SignalEnds,
} from "./pipeline.js";

export const FLOOR_GOAL = 1.5;
export const FLOOR_LABEL = "libsignal (in-memory)";
/** The row the headline ratio is taken from: the deployment most installs run. */
export const RATIO_OF = "sqlite (file, WAL)";
const WARMUP_MESSAGES = 100;

export interface FloorOptions {
  messages: number;
  /** Where PostgreSQL is; false skips it. Default: DATABASE_URL, else the local test database. */
  postgresUrl?: string | false;
}

export interface FloorRow extends PipelineResult {
  /** µs/msg of this row ÷ µs/msg of the in-memory row. */
  timesFloor: number;
  /** signalEncrypt + signalDecrypt of this row ÷ the same of the in-memory row. */
  signalTimesFloor: number;
}

export interface FloorResult {
  messages: number;
  /** libsignal with in-memory stores (both ratios 1). */
  inMemory: FloorRow;
  /** The store-backed rows in run order: SQLite :memory:, SQLite file, PostgreSQL if reachable. */
  rows: FloorRow[];
  /** signalTimesFloor of the RATIO_OF row. */
  ratio: number;
  ratioOf: string;
  skipped: { database: string; reason: string }[];
}

export async function inMemoryEnds(): Promise<SignalEnds> {
  const alice = new InMemorySignalAccount(ALICE);
  const bob = new InMemorySignalAccount(BOB);
  return pairEnds(alice, bob, await bob.generateBundle());
}

async function postgresAvailable(url: string): Promise<boolean> {
  try {
    const db = await openDatabase({ type: "postgres", url });
    try {
      await db.raw("select 1");
    } finally {
      await db.destroy();
    }
    return true;
  } catch {
    return false;
  }
}

async function runPostgres(url: string, messages: number): Promise<PipelineResult> {
  const schema = `gkb_bench_${randomBytes(4).toString("hex")}`;
  try {
    return await runPipeline("postgres", { type: "postgres", url, schema }, messages);
  } finally {
    const db = await openDatabase({ type: "postgres", url });
    await db.raw(`drop schema if exists "${schema}" cascade`);
    await db.destroy();
  }
}

const signalUs = (r: PipelineResult): number => r.stagesUs.signalEncrypt + r.stagesUs.signalDecrypt;
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

function compare(row: PipelineResult, floor: PipelineResult): FloorRow {
  return {
    ...row,
    timesFloor: ratio(row.perMessageUs, floor.perMessageUs),
    signalTimesFloor: ratio(signalUs(row), signalUs(floor)),
  };
}

export async function runFloor(options: FloorOptions): Promise<FloorResult> {
  const { messages } = options;
  if (!Number.isInteger(messages) || messages < 1) {
    throw new RangeError(`message count must be a positive integer, not ${messages}`);
  }
  // The first row would otherwise pay for loading and compiling the shared code (libsignal,
  // codec, Noise) and make the floor look higher than it is.
  await measure("warm-up", await inMemoryEnds(), WARMUP_MESSAGES);
  const floor = await measure(FLOOR_LABEL, await inMemoryEnds(), messages);

  const results: PipelineResult[] = [];
  const skipped: FloorResult["skipped"] = [];
  // In-memory SQLite: the same work without disk syncs, to tell crypto from storage cost.
  results.push(
    await runPipeline("sqlite (:memory:)", { type: "sqlite", filename: ":memory:" }, messages),
  );
  const sqlite = sqliteTempConfig();
  try {
    results.push(await runPipeline(RATIO_OF, sqlite.config, messages));
  } finally {
    sqlite.cleanup();
  }
  const pgUrl =
    options.postgresUrl ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  if (pgUrl === false) {
    skipped.push({ database: "postgres", reason: "not asked for" });
  } else if (await postgresAvailable(pgUrl)) {
    results.push(await runPostgres(pgUrl, messages));
  } else {
    skipped.push({
      database: "postgres",
      reason: `${redactUrl(pgUrl)} not reachable`,
    });
  }

  const rows = results.map((r) => compare(r, floor));
  return {
    messages,
    inMemory: compare(floor, floor),
    rows,
    ratio: rows.find((r) => r.database === RATIO_OF)!.signalTimesFloor,
    ratioOf: RATIO_OF,
    skipped,
  };
}

/** What bench/results.json holds: the store-backed rows as before, and the floor beside. */
export function floorReport(result: FloorResult) {
  return {
    messages: result.messages,
    results: result.rows,
    floor: {
      ratio: result.ratio,
      ratioOf: result.ratioOf,
      goal: FLOOR_GOAL,
      inMemory: result.inMemory,
    },
  };
}
