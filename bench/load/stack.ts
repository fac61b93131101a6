/**
 * The load bench's stack, every part in its own process on loopback: the sandbox gatekeeper
 * (its CLI, limits raised through `--limit`), the test homeserver (test/harness, as a server
 * of its own), and the bridge as admins run it: `node dist/cli.js` with a config.yaml and the
 * registration its own `-r` wrote. The driver (this process) talks to them over HTTP and GKI.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import yaml from "js-yaml";
import { AUTH_PATH } from "../../src/connector/index.js";
import { AdminClient } from "../../src/sandbox/admin-client.js";
import type { SandboxInfo } from "../../src/sandbox/index.js";
import { startPart, waitUntil } from "./proc.js";
import type { Part } from "./proc.js";

export const SERVER_NAME = "localhost";
export const PARTNER_ID = "matrix";
export const BOT_LOCALPART = "loadbot";
const ROOT = resolve(import.meta.dirname, "../..");

export type DatabaseChoice = { type: "sqlite" } | { type: "postgres"; url: string };

export interface StackOptions {
  dir: string;
  database: DatabaseChoice;
  /** Sandbox limits (SandboxLimits field names), raised for load. */
  sandboxLimits: Record<string, number>;
  /** Write a V8 CPU profile of the bridge into this folder (node --cpu-prof). */
  profileDir?: string;
  /** Let the bridge write heap snapshots into this folder on SIGUSR2 (see heapSnapshot). */
  heapDir?: string;
  /** The bridge's log level (default info: what an admin runs; messages are logged at debug). */
  logLevel?: string;
  /**
   * Several processes (PostgreSQL only): the bridge runs as an intake (role intake: the
   * homeserver's pushes, the partner endpoints) and this many workers (role worker), each in
   * its own process with its own config. Without it, one process does everything.
   */
  workers?: number;
  /** The workers' lease and renewal times (default: the bridge's, 20 s and 5 s). */
  lease?: { leaseSeconds: number; renewSeconds: number };
}

/** The config of the bridge (or its intake), from which each worker's is made. */
type BridgeConfig = Record<string, Record<string, unknown>>;

export class Stack {
  /** The bridge, or with several processes its intake. */
  bridge: Part | undefined;
  /** With several processes: the workers, by index (a killed one stays until restarted). */
  readonly workers: (Part | undefined)[] = [];
  private readonly workerMetricsPorts: number[] = [];
  /** The sandbox's admin API: users, codes, who is online. */
  readonly admin: AdminClient;

  private constructor(
    readonly o: StackOptions,
    private readonly metricsPort: number,
    readonly sandbox: Part,
    readonly sandboxInfo: SandboxInfo,
    readonly homeserver: Part,
    readonly homeserverUrl: string,
    readonly registrationSecret: string,
    private readonly configPath: string,
    private readonly registrationPath: string,
    private readonly partnerSecret: string,
    private readonly config: BridgeConfig,
  ) {
    this.admin = new AdminClient(sandboxInfo.httpUrl);
  }

  get botMxid(): string {
    return `@${BOT_LOCALPART}:${SERVER_NAME}`;
  }

  static async start(o: StackOptions): Promise<Stack> {
    const node = process.execPath;
    const tsx = ["--import", "tsx"];
    const [sandboxPort, hsPort, asPort, partnerPort, metricsPort] = await freePorts(5);
    const partnerSecret = randomBytes(24).toString("base64url");
    const secretFile = join(o.dir, "partner-secret");
    writeFileSync(secretFile, partnerSecret, { mode: 0o600 });

    const limits = Object.entries(o.sandboxLimits).flatMap(([k, v]) => ["--limit", `${k}=${v}`]);
    const sandbox = startPart(
      "sandbox",
      node,
      [
        ...tsx,
        join(ROOT, "src/sandbox/cli.ts"),
        "serve",
        "--port",
        String(sandboxPort),
        "--partner-id",
        PARTNER_ID,
        "--partner-auth-url",
        `http://127.0.0.1:${partnerPort}${AUTH_PATH}`,
        "--partner-secret-file",
        secretFile,
        "--partner-media-origin",
        `http://127.0.0.1:${partnerPort}`,
        ...limits,
      ],
      { dir: o.dir },
    );
    const admin = new AdminClient(`http://127.0.0.1:${sandboxPort}`);
    await waitUntil("the sandbox", async () => (await admin.info()).url !== "", 30_000);
    const info = await admin.info();

    // The config first: the registration is written from it by the bridge's own -r.
    const configPath = join(o.dir, "config.yaml");
    const registrationPath = join(o.dir, "registration.yaml");
    const hsUrl = `http://127.0.0.1:${hsPort}`;
    if (o.workers !== undefined && o.database.type !== "postgres") {
      throw new Error("several bridge processes need PostgreSQL");
    }
    const config: BridgeConfig = {
      homeserver: { url: hsUrl, domain: SERVER_NAME },
      appservice: {
        port: asPort,
        bind_address: "127.0.0.1",
        id: "gatekeeper-load",
        bot: { localpart: BOT_LOCALPART },
      },
      gatekeeper: {
        url: info.url,
        static_key: info.publicKey,
        partner_id: PARTNER_ID,
        public_base_url: `http://127.0.0.1:${partnerPort}`,
        listen: { port: partnerPort, bind_address: "127.0.0.1" },
      },
      database:
        o.database.type === "sqlite"
          ? { type: "sqlite", filename: join(o.dir, "bridge.sqlite") }
          : { type: "postgres", url: o.database.url },
      bridge: {
        permissions: { [SERVER_NAME]: "user" },
        message_requests: false,
        media: { directory: join(o.dir, "media") },
      },
      logging: { level: o.logLevel ?? "info", format: "text" },
      metrics: { enabled: true, port: metricsPort, bind_address: "127.0.0.1" },
      ...(o.workers === undefined ? {} : { scale: { role: "intake" } }),
    };
    writeFileSync(configPath, yaml.dump(config), { mode: 0o600 });
    execFileSync(node, [
      join(ROOT, "dist/cli.js"),
      "-r",
      "-c",
      configPath,
      "-f",
      registrationPath,
      "-u",
      `http://127.0.0.1:${asPort}`,
    ]);

    const registrationSecret = randomBytes(16).toString("hex");
    const homeserver = startPart(
      "homeserver",
      node,
      [
        ...tsx,
        join(ROOT, "test/harness/homeserver/serve.ts"),
        "--port",
        String(hsPort),
        "--server-name",
        SERVER_NAME,
        "--registration",
        registrationPath,
        "--registration-secret",
        registrationSecret,
      ],
      { dir: o.dir },
    );
    await waitUntil(
      "the homeserver",
      async () => (await fetch(`${hsUrl}/_matrix/client/versions`)).ok,
      30_000,
    );
    const stack = new Stack(
      o,
      metricsPort!,
      sandbox,
      info,
      homeserver,
      hsUrl,
      registrationSecret,
      configPath,
      registrationPath,
      partnerSecret,
      config,
    );
    await stack.startBridge();
    for (let i = 0; i < (o.workers ?? 0); i++) {
      await stack.writeWorkerConfig(i);
      await stack.startWorker(i);
    }
    return stack;
  }

  /** Worker i's config: the intake's, with a worker's role and id and ports of its own. */
  private async writeWorkerConfig(i: number): Promise<void> {
    const [partnerPort, metricsPort] = await freePorts(2);
    this.workerMetricsPorts[i] = metricsPort!;
    const c = this.config;
    const worker = {
      ...c,
      gatekeeper: { ...c.gatekeeper, listen: { port: partnerPort, bind_address: "127.0.0.1" } },
      metrics: { ...c.metrics, port: metricsPort },
      scale: {
        role: "worker",
        worker_id: `w${i + 1}`,
        ...(this.o.lease
          ? { lease_seconds: this.o.lease.leaseSeconds, renew_seconds: this.o.lease.renewSeconds }
          : {}),
      },
    };
    writeFileSync(this.workerConfigPath(i), yaml.dump(worker), { mode: 0o600 });
  }

  private workerConfigPath(i: number): string {
    return join(this.o.dir, `config-w${i + 1}.yaml`);
  }

  /** Starts worker i (again) and waits until it says it started. */
  async startWorker(i: number): Promise<Part> {
    const worker = this.startBridgePart(`w${i + 1}`, this.workerConfigPath(i));
    this.workers[i] = worker;
    await worker.waitForOutput(/bridge started/, 60_000);
    return worker;
  }

  /** Every bridge process now running: the bridge (or intake) and the workers. */
  bridgeParts(): Part[] {
    return [this.bridge, ...this.workers].filter((p): p is Part => p !== undefined && !p.exited);
  }

  /** Starts the bridge process and waits until it says it started. */
  async startBridge(): Promise<Part> {
    const bridge = this.startBridgePart("bridge", this.configPath);
    this.bridge = bridge;
    await bridge.waitForOutput(/bridge started/, 60_000);
    return bridge;
  }

  private startBridgePart(name: string, configPath: string): Part {
    return startPart(
      name,
      process.execPath,
      [
        ...(this.o.profileDir ? ["--cpu-prof", "--cpu-prof-dir", this.o.profileDir] : []),
        ...(this.o.heapDir
          ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${this.o.heapDir}`]
          : []),
        join(ROOT, "dist/cli.js"),
        "-c",
        configPath,
        "-f",
        this.registrationPath,
      ],
      { dir: this.o.dir, env: { GKB_PARTNER_SECRET: this.partnerSecret } },
    );
  }

  /** The bridge's database statements so far (its bridge_db_queries_total metric; all processes'). */
  async dbQueries(): Promise<number> {
    let total = 0;
    const ports = [
      this.metricsPort,
      ...this.workerMetricsPorts.filter((_, i) => this.workers[i]?.exited === false),
    ];
    for (const port of ports) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const m = /^bridge_db_queries_total(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(
        await res.text(),
      );
      total += m ? Number(m[1]) : NaN;
    }
    return total;
  }

  /** Asks the bridge for a heap snapshot (with heapDir); resolves once it is written. */
  async heapSnapshot(): Promise<void> {
    const dir = this.o.heapDir;
    if (!dir || !this.bridge) return;
    const before = new Set(readdirSync(dir));
    process.kill(this.bridge.pid, "SIGUSR2");
    await waitUntil(
      "the heap snapshot",
      async () => {
        const fresh = readdirSync(dir).filter((f) => !before.has(f));
        if (fresh.length === 0) return false;
        // Written when its size stops changing.
        const size = (): number => statSync(join(dir, fresh[0]!)).size;
        const a = size();
        await new Promise((r) => setTimeout(r, 500));
        return a > 0 && a === size();
      },
      120_000,
      500,
    );
  }

  async close(): Promise<void> {
    for (const part of [...this.workers, this.bridge, this.homeserver, this.sandbox]) {
      await part?.stop().catch(() => undefined);
    }
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = createServer().listen(0, "127.0.0.1");
      await once(s, "listening");
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
