/**
 * The load bench's processes: each part (sandbox, homeserver, bridge) runs as a child of its
 * own, its output kept in a log file of the run's folder. CPU time and memory are read from
 * /proc, as an admin's monitoring would (Linux only: where the bench runs).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

export interface Part {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when `pattern` appears in its output (stdout or stderr). */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL: it dies wherever it is. */
  kill(): Promise<void>;
  readonly exited: boolean;
}

export function startPart(
  name: string,
  command: string,
  args: string[],
  o: { dir: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Part {
  const logFile = join(o.dir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child: ChildProcess = spawn(command, args, {
    cwd: o.cwd ?? process.cwd(),
    env: { ...process.env, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    // Only the recent output is searched: a long run's log stays in the file.
    output = (output + chunk.toString("utf8")).slice(-65_536);
    for (const w of [...watchers]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      log.end();
      for (const w of [...watchers]) w();
      resolve();
    }),
  );
  if (child.pid === undefined) throw new Error(`${name} could not be started (${command})`);
  const pid = child.pid;

  return {
    name,
    pid,
    logFile,
    get exited() {
      return exited;
    },
    waitForOutput(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = output.match(pattern);
          if (m) {
            done();
            resolve(m);
          } else if (exited) {
            done();
            reject(new Error(`${name} exited before printing ${pattern}; see ${logFile}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`${name} did not print ${pattern} within ${timeoutMs} ms; see ${logFile}`),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exit;
      clearTimeout(timer);
    },
    async kill() {
      if (exited) return;
      child.kill("SIGKILL");
      await exit;
    },
  };
}

/** User + system CPU time of a process so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Resident memory now and at its peak (VmRSS, VmHWM), in KiB. */
export function memoryKb(pid: number): { rssKb: number; peakKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) : NaN;
  };
  return { rssKb: field("VmRSS"), peakKb: field("VmHWM") };
}

/** Polls `probe` until it resolves true (errors count as "not yet"). */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
