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
}

export class Stack {
  bridge: Part | undefined;
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
    writeFileSync(
      configPath,
      yaml.dump({
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
      }),
      { mode: 0o600 },
    );
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
    );
    await stack.startBridge();
    return stack;
  }

  /** Starts the bridge process and waits until it says it started. */
  async startBridge(): Promise<Part> {
    const bridge = startPart(
      "bridge",
      process.execPath,
      [
        ...(this.o.profileDir ? ["--cpu-prof", "--cpu-prof-dir", this.o.profileDir] : []),
        ...(this.o.heapDir
          ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${this.o.heapDir}`]
          : []),
        join(ROOT, "dist/cli.js"),
        "-c",
        this.configPath,
        "-f",
        this.registrationPath,
      ],
      { dir: this.o.dir, env: { GKB_PARTNER_SECRET: this.partnerSecret } },
    );
    this.bridge = bridge;
    await bridge.waitForOutput(/bridge started/, 60_000);
    return bridge;
  }

  /** The bridge's database statements so far (its bridge_db_queries_total metric). */
  async dbQueries(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    const m = /^bridge_db_queries_total(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(
      await res.text(),
    );
    return m ? Number(m[1]) : NaN;
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
    for (const part of [this.bridge, this.homeserver, this.sandbox]) {
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
