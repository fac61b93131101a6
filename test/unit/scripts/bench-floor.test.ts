/**
 * bench/floor.ts: `npm run bench` and the load bench get the in-memory libsignal row, the
 * store-backed rows and their ratio to it. Timings are not asserted, only that the numbers
 * exist and can be compared.
 */
import { describe, expect, it } from "vitest";
import { FLOOR_LABEL, floorReport, runFloor } from "../../../bench/floor.js";
import { STAGES } from "../../../bench/pipeline.js";

const positive = (n: number): boolean => Number.isFinite(n) && n > 0;

describe("bench floor", () => {
  it("measures libsignal in memory first and every store-backed row against it", async () => {
    const result = await runFloor({ messages: 20, postgresUrl: false });

    expect(result.inMemory.database).toBe(FLOOR_LABEL);
    expect(result.inMemory.messages).toBe(20);
    expect(result.inMemory.timesFloor).toBe(1);
    expect(result.rows.map((r) => r.database)).toEqual(["sqlite (:memory:)", "sqlite (file, WAL)"]);
    for (const row of [result.inMemory, ...result.rows]) {
      for (const stage of STAGES) expect(row.stagesUs[stage]).toBeGreaterThanOrEqual(0);
      expect(positive(row.perMessageUs)).toBe(true);
      expect(positive(row.timesFloor)).toBe(true);
      expect(positive(row.signalTimesFloor)).toBe(true);
    }
    expect(positive(result.ratio)).toBe(true);
    expect(result.ratioOf).toBe("sqlite (file, WAL)");
    expect(result.skipped).toEqual([{ database: "postgres", reason: "not asked for" }]);

    const report = floorReport(result);
    expect(report.floor.ratio).toBe(result.ratio);
    expect(report.floor.inMemory).toBe(result.inMemory);
    expect(report.results).toBe(result.rows);
  });

  it("refuses a message count that is not a positive integer", async () => {
    await expect(runFloor({ messages: 0, postgresUrl: false })).rejects.toThrow(RangeError);
    await expect(runFloor({ messages: 2.5, postgresUrl: false })).rejects.toThrow(RangeError);
  });
});
