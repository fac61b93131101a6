/**
 * The bridge as the admin runs it: `node --import tsx src/cli.ts -c config.yaml -f
 * registration.yaml -p <port>` in a child process, so a test can kill it outright
 * (SIGKILL: no shutdown code runs) and start it again on the same database. Its log goes to
 * a buffer, shown only when something fails.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../../..");
const CLI = join(ROOT, "src/cli.ts");
/** The line src/bridge.ts logs once the bridge takes work. */
const READY = /bridge started/;
const MAX_LOG_CHARS = 200_000;

export interface BridgeProcessOptions {
  configFile: string;
  registrationFile: string;
  port: number;
  /** Until the bridge logs that it started (default 30 s). */
  startTimeoutMs?: number;
}

export class BridgeProcess {
  private log = "";
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
    const keep = (chunk: Buffer): void => {
      this.log += chunk.toString("utf8");
      if (this.log.length > MAX_LOG_CHARS) this.log = this.log.slice(-MAX_LOG_CHARS / 2);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  /** Starts the CLI and resolves once the bridge logged that it started. */
  static async start(o: BridgeProcessOptions): Promise<BridgeProcess> {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("GKB_")),
    );
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        // bot-sdk's htmlencode calls util._extend (as in vitest.config.ts).
        "--disable-warning=DEP0060",
        CLI,
        "-c",
        o.configFile,
        "-f",
        o.registrationFile,
        "-p",
        String(o.port),
      ],
      { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const bridge = new BridgeProcess(child);
    await bridge.ready(o.startTimeoutMs ?? 30_000);
    return bridge;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** What the bridge logged (for failure messages). */
  output(): string {
    return this.log;
  }

  /** No graceful stop: the process dies wherever it is. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM, the admin's stop; resolves with the exit code. */
  async terminate(): Promise<number | null> {
    if (this.running) this.child.kill("SIGTERM");
    return this.exited;
  }

  private ready(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onData = (): void => {
        if (READY.test(this.log)) done(resolve);
      };
      const timer = setTimeout(() => {
        done(() => reject(new Error(`the bridge did not start in ${timeoutMs} ms:\n${this.log}`)));
        this.child.kill("SIGKILL");
      }, timeoutMs);
      const onExit = (code: number | null): void =>
        done(() => reject(new Error(`the bridge exited (code ${code}) on start:\n${this.log}`)));
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.child.stdout?.off("data", onData);
        this.child.stderr?.off("data", onData);
        this.child.off("exit", onExit);
        f();
      };
      // After `keep` (added in the constructor), so the log already has the chunk.
      this.child.stdout?.on("data", onData);
      this.child.stderr?.on("data", onData);
      this.child.once("exit", onExit);
    });
  }
}
