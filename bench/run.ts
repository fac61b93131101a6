/**
 * `npm run bench [-- --messages N] [-- --json FILE]`: prints a table and writes JSON.
 * PostgreSQL runs when DATABASE_URL (or the local default) answers.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { runPipeline, sqliteTempConfig, STAGES, type PipelineResult } from "./pipeline.js";
import { openDatabase } from "../src/db/index.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "2000" },
    json: { type: "string", default: "bench/results.json" },
  },
});
const messages = Number(values.messages);

async function postgresAvailable(url: string): Promise<boolean> {
  try {
    const db = await openDatabase({ type: "postgres", url });
    await db.raw("select 1");
    await db.destroy();
    return true;
  } catch {
    return false;
  }
}

const results: PipelineResult[] = [];
// In-memory SQLite: the same work without disk syncs, to tell crypto from storage cost.
results.push(
  await runPipeline("sqlite (:memory:)", { type: "sqlite", filename: ":memory:" }, messages),
);
const sqlite = sqliteTempConfig();
try {
  results.push(await runPipeline("sqlite (file, WAL)", sqlite.config, messages));
} finally {
  sqlite.cleanup();
}
const pgUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
if (await postgresAvailable(pgUrl)) {
  const schema = `gkb_bench_${randomBytes(4).toString("hex")}`;
  results.push(await runPipeline("postgres", { type: "postgres", url: pgUrl, schema }, messages));
  const db = await openDatabase({ type: "postgres", url: pgUrl });
  await db.raw(`drop schema if exists "${schema}" cascade`);
  await db.destroy();
} else {
  console.log(`(PostgreSQL at ${pgUrl.replace(/:[^:@/]*@/, ":***@")} not reachable: skipped)`);
}

console.log(
  `\nCrypto + codec floor: one text message, encrypt + encode + decode + decrypt (${messages} messages)\n`,
);
const header = ["database", "µs/msg", "msg/s", ...STAGES.map((s) => `${s} µs`)];
console.table(
  results.map((r) =>
    Object.fromEntries(
      header.map((h, i) => [
        h,
        i === 0
          ? r.database
          : i === 1
            ? r.perMessageUs
            : i === 2
              ? r.messagesPerSecond
              : r.stagesUs[STAGES[i - 3]!],
      ]),
    ),
  ),
);
const report = { date: new Date().toISOString(), node: process.version, messages, results };
writeFileSync(values.json, JSON.stringify(report, null, 2) + "\n");
console.log(`\nJSON written to ${values.json}`);
