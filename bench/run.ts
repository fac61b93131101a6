/**
 * `npm run bench [-- --messages N] [-- --json FILE]`: prints a table and writes JSON.
 * The first row is libsignal with in-memory stores, the floor every other row is divided by.
 * PostgreSQL runs when DATABASE_URL (or the local default) answers.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { FLOOR_GOAL, floorReport, runFloor, type FloorRow } from "./floor.js";
import { STAGES } from "./pipeline.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "2000" },
    json: { type: "string", default: "bench/results.json" },
  },
});
const messages = Number(values.messages);
if (!Number.isInteger(messages) || messages < 1) {
  console.error(`--messages wants a positive integer (got "${values.messages}")`);
  process.exit(2);
}

const result = await runFloor({ messages });
for (const { database, reason } of result.skipped) console.log(`(${database}: ${reason}; skipped)`);

console.log(
  `\nCrypto + codec floor: one text message, encrypt + encode + decode + decrypt (${messages} messages)\n`,
);
const row = (r: FloorRow) => ({
  database: r.database,
  "µs/msg": r.perMessageUs,
  "× floor": r.timesFloor,
  "signal × floor": r.signalTimesFloor,
  "msg/s": r.messagesPerSecond,
  ...Object.fromEntries(STAGES.map((s) => [`${s} µs`, r.stagesUs[s]])),
});
console.table([result.inMemory, ...result.rows].map(row));
const met = result.ratio <= FLOOR_GOAL ? "met" : "not met";
console.log(
  `\nSignal encrypt + decrypt, ${result.ratioOf} ÷ in-memory: ${result.ratio}× (goal ≤ ${FLOOR_GOAL}×: ${met})`,
);
const report = { date: new Date().toISOString(), node: process.version, ...floorReport(result) };
writeFileSync(values.json, JSON.stringify(report, null, 2) + "\n");
console.log(`\nJSON written to ${values.json}`);
