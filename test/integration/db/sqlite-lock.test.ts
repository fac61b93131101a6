/**
 * One bridge process per SQLite file (src/db/sqlite-lock.ts): the lock is refused while its
 * holder lives, taken over at once when the holder is gone (a kill -9 leaves the file), and
 * released only by its holder.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseInUseError, lockSqliteFile } from "../../../src/db/sqlite-lock.js";

describe("the SQLite database's process lock", () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gkb-lock-"));
    db = join(dir, "bridge.sqlite");
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is refused while its holder lives, naming it, and released by it", async () => {
    const lock = await lockSqliteFile(db);
    expect(await readFile(`${db}.lock`, "utf8")).toBe(`${process.pid}\n${hostname()}\n`);
    const second = lockSqliteFile(db);
    await expect(second).rejects.toBeInstanceOf(DatabaseInUseError);
    await expect(second).rejects.toThrow(`pid ${process.pid} on ${hostname()}`);
    await lock.release();
    expect(existsSync(`${db}.lock`)).toBe(false);
    await (await lockSqliteFile(db)).release();
  });

  it("is taken over when its holder is gone (a kill -9 left the file)", async () => {
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid!;
    await writeFile(`${db}.lock`, `${gone}\n${hostname()}\n`);
    const lock = await lockSqliteFile(db);
    expect(await readFile(`${db}.lock`, "utf8")).toBe(`${process.pid}\n${hostname()}\n`);
    await lock.release();
  });

  it("is refused when another host holds it (its process cannot be checked from here)", async () => {
    await writeFile(`${db}.lock`, `4242\nanother-host\n`);
    await expect(lockSqliteFile(db)).rejects.toThrow("pid 4242 on another-host");
    await rm(`${db}.lock`);
  });

  it("is not removed by a process that does not hold it", async () => {
    const lock = await lockSqliteFile(db);
    await writeFile(`${db}.lock`, `4242\nanother-host\n`); // someone removed ours and took it
    await lock.release();
    expect(await readFile(`${db}.lock`, "utf8")).toBe("4242\nanother-host\n");
    await rm(`${db}.lock`);
  });

  it("takes a lock left empty by a crash", async () => {
    await writeFile(`${db}.lock`, "");
    const lock = await lockSqliteFile(db);
    await lock.release();
  });
});
