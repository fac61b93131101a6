/**
 * SQLite is one process's database (docs/operations.md): a second bridge process on the same
 * file would work beside the first with its own caches, locks and gatekeeper connections,
 * and both would serve the same logins. So the bridge takes a lock next to the file: a file
 * created exclusively that holds the owner's pid and host. A lock whose process is gone
 * (killed, crashed) is stale and taken over at once, as PostgreSQL's postmaster.pid is.
 * Written by hand: proper-lockfile judges staleness by the lock's age, which would refuse a
 * restart for a while after a kill -9.
 */
import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { processAlive } from "../util/process-alive.js";

/** Another bridge process holds the SQLite database. */
export class DatabaseInUseError extends Error {
  readonly code = "database-in-use";
  override readonly name = "DatabaseInUseError";
}

export interface SqliteLock {
  readonly path: string;
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
}

/** Takes the lock of the SQLite file `filename`, or throws DatabaseInUseError. */
export async function lockSqliteFile(filename: string): Promise<SqliteLock> {
  const path = `${filename}.lock`;
  const me: Holder = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const file = await open(path, "wx");
      try {
        await file.writeFile(`${me.pid}\n${me.host}\n`);
      } finally {
        await file.close();
      }
      return { path, release: () => releaseIfMine(path, me) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // No such folder: opening the database fails the same way, and says so better.
      if (code === "ENOENT") return { path, release: () => Promise.resolve() };
      if (code !== "EEXIST") throw err;
    }
    const holder = await holderOf(path);
    if (holder === undefined) {
      // Being written just now, or left empty by a crash: look again, then take it.
      if (attempt < 2) await new Promise((r) => setTimeout(r, 100));
      else await rm(path, { force: true });
      continue;
    }
    if (holder.host !== me.host || processAlive(holder.pid)) {
      throw new DatabaseInUseError(
        `another bridge process (pid ${holder.pid} on ${holder.host}) is using the SQLite ` +
          `database ${filename}; SQLite serves one process. Stop that one first, or move to ` +
          `PostgreSQL to run several (docs/operations.md). If no such process runs, remove ` +
          `${path}.`,
      );
    }
    // Its process is gone: replaced in one step (rename), then read back, so that of two
    // processes taking over at once only the last one's holds and the other sees it alive.
    const mine = `${path}.${me.pid}`;
    await writeFile(mine, `${me.pid}\n${me.host}\n`);
    await rename(mine, path);
    const now = await holderOf(path);
    if (now?.pid === me.pid && now.host === me.host) {
      return { path, release: () => releaseIfMine(path, me) };
    }
  }
  throw new DatabaseInUseError(`could not take the lock ${path}; remove it if no bridge runs`);
}

async function holderOf(path: string): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  const [pid, host] = text.split("\n");
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 && host ? { pid: n, host } : undefined;
}

async function releaseIfMine(path: string, me: Holder): Promise<void> {
  const holder = await holderOf(path);
  if (holder?.pid === me.pid && holder.host === me.host) await rm(path, { force: true });
}
