/**
 * The whole product for e2e tests: a homeserver (in process, or a real one when
 * E2E_HOMESERVER_URL is set: see test/harness/README.md), the sandbox gatekeeper, and the
 * bridge, either in this process (startBridge) or as the admin runs it, the CLI in a child
 * process (for kill-and-restart tests). Users act as people do: Matrix users through
 * matrix-js-sdk (MatrixActor), gatekeeper users through the gatekeeper's own client
 * (NativeActor).
 *
 *   const w = await BridgeWorld.create("chat");
 *   await w.startBridge();
 *   const alice = await w.matrixUser("alice");
 *   const bob = await w.nativeUser("Bob");
 *   ...
 *   await w.close();
 *
 * Against a real homeserver the registration is the one installed there (one per test worker
 * with `npm run test:synapse`); its id, bot and puppet namespace are the e2e suite's own, so
 * they never collide with a real bridge on the same homeserver. Tests that need the
 * in-process homeserver's controls (outages, rate limits) skip there.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { startBridge } from "../../../src/bridge.js";
import type { RunningBridge } from "../../../src/bridge.js";
import { parseConfig } from "../../../src/config/index.js";
import { AUTH_PATH } from "../../../src/connector/index.js";
import { AppServiceRegistration, Logger } from "../../../src/matrix/appservice-bridge.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { Sandbox, SandboxLimits } from "../../../src/sandbox/index.js";
import type { AppServiceRegistrationLike } from "../../harness/homeserver/index.js";
import { freePort, puppetPrefixOf, startE2eTarget } from "../../harness/target.js";
import type { E2eTarget } from "../../harness/target.js";
import { BridgeProcess } from "./bridge-process.js";
import { MatrixActor } from "./matrix-actor.js";
import type { BridgeIdentity } from "./matrix-actor.js";
import { NativeActor } from "./native-actor.js";

// The in-process bridge's log, off unless E2E_BRIDGE_LOG names a level (e.g. warn, debug).
Logger.configure({ console: (process.env.E2E_BRIDGE_LOG ?? "off") as "off" });

export const PARTNER_ID = "matrix";
export const PARTNER_SECRET = "e2e-bridge-partner-secret";
/** The e2e registration (in process; a real homeserver's installed one may differ). */
export const E2E_APPSERVICE = {
  id: "gatekeeper-e2e",
  senderLocalpart: "gke2ebot",
  userPrefix: "gke2e_",
} as const;
export const COMMAND_PREFIX = "!gk";

export type DatabaseChoice = { type: "sqlite" } | { type: "postgres"; url: string };

export interface BridgeSettings {
  /** Default: a SQLite file in the world's folder (the same one at every start). */
  database?: DatabaseChoice;
  /** Default: the homeserver's users are users. */
  permissions?: Record<string, "none" | "user" | "admin">;
  messageRequests?: boolean;
  maxSendAttempts?: number;
  /** bridge.message_status_events (SUCCESS send statuses too); off by default. */
  messageStatusEvents?: boolean;
  /** bridge.edit_window_seconds (default: the bridge's, 15 minutes). */
  editWindowSeconds?: number;
}

/** config `scale:` of one of several bridge processes on one PostgreSQL (issue 12). */
export interface ScaleSettings {
  role: "all" | "intake" | "worker";
  workerId?: string;
  leaseSeconds?: number;
  renewSeconds?: number;
}

export interface WorldOptions {
  limits?: Partial<SandboxLimits>;
}

export class BridgeWorld {
  readonly botMxid: string;
  readonly identity: BridgeIdentity;
  private inProcess: RunningBridge | undefined;
  private process: BridgeProcess | undefined;
  /** Several bridge processes (startScaledProcess), by name. */
  private readonly scaled = new Map<string, BridgeProcess>();
  /** Their Prometheus metrics' ports, by name. */
  readonly metricsPorts = new Map<string, number>();
  private readonly matrixUsers: MatrixActor[] = [];
  private readonly natives: NativeActor[] = [];
  private phones = 0;

  /** Puppet localparts start with this (the registration's exclusive user namespace). */
  readonly puppetPrefix: string;

  private constructor(
    readonly dir: string,
    readonly target: E2eTarget,
    readonly sandbox: Sandbox,
    readonly registration: AppServiceRegistrationLike,
    readonly listen: { host: string; port: number },
    /** The bridge's partner endpoints port: fixed, so the gatekeeper finds it after a restart. */
    readonly partnerPort: number,
  ) {
    this.botMxid = `@${registration.sender_localpart}:${target.serverName}`;
    this.puppetPrefix = puppetPrefixOf(registration, target.serverName)!;
    const server = escapeRegex(target.serverName);
    const puppet = new RegExp(`^@${escapeRegex(this.puppetPrefix)}.+:${server}$`);
    this.identity = { botMxid: this.botMxid, isPuppet: (u) => puppet.test(u) };
  }

  static async create(name: string, options: WorldOptions = {}): Promise<BridgeWorld> {
    const dir = mkdtempSync(join(tmpdir(), `gkb-e2e-${name}-`));
    const target = await startE2eTarget();
    try {
      const { registration, listen } = await target.appService(E2E_APPSERVICE);
      const partnerPort = await freePort();
      const sandbox = await startSandbox(options.limits ? { limits: options.limits } : {});
      await sandbox.admin.addPartner({
        id: PARTNER_ID,
        authUrl: `http://127.0.0.1:${partnerPort}${AUTH_PATH}`,
        secret: PARTNER_SECRET,
      });
      return new BridgeWorld(dir, target, sandbox, registration, listen, partnerPort);
    } catch (err) {
      await target.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The in-process homeserver, or undefined against a real one. */
  get homeserver() {
    return this.target.homeserver;
  }

  /** config.yaml as the admin writes it. */
  rawConfig(s: BridgeSettings = {}): Record<string, unknown> {
    const db = s.database ?? { type: "sqlite" };
    return {
      homeserver: { url: this.target.url, domain: this.target.serverName },
      appservice: {
        port: this.listen.port,
        bind_address: this.listen.host,
        id: this.registration.id,
        bot: { localpart: this.registration.sender_localpart },
      },
      gatekeeper: {
        url: this.sandbox.url,
        static_key: this.sandbox.publicKeyBase64,
        partner_id: PARTNER_ID,
        partner_secret: PARTNER_SECRET,
        public_base_url: `http://127.0.0.1:${this.partnerPort}`,
        listen: { port: this.partnerPort, bind_address: "127.0.0.1" },
      },
      database:
        db.type === "sqlite"
          ? { type: "sqlite", filename: join(this.dir, "bridge.sqlite") }
          : { type: "postgres", url: db.url },
      bridge: {
        username_template: `${this.puppetPrefix}{{id}}`,
        permissions: s.permissions ?? { [this.target.serverName]: "user" },
        command_prefix: COMMAND_PREFIX,
        message_requests: s.messageRequests ?? true,
        max_send_attempts: s.maxSendAttempts ?? 10,
        ...(s.messageStatusEvents === undefined
          ? {}
          : { message_status_events: s.messageStatusEvents }),
        ...(s.editWindowSeconds === undefined ? {} : { edit_window_seconds: s.editWindowSeconds }),
      },
      logging: { level: "info", format: "json" },
    };
  }

  /** Starts the bridge in this process. */
  async startBridge(s: BridgeSettings = {}): Promise<RunningBridge> {
    if (this.inProcess || this.process?.running) throw new Error("the bridge is running already");
    const config = parseConfig(this.rawConfig(s), "e2e config", {});
    this.inProcess = await startBridge(
      config,
      AppServiceRegistration.fromObject(this.registration as never),
      this.listen,
    );
    return this.inProcess;
  }

  /** Graceful stop of the in-process bridge. */
  async stopBridge(): Promise<void> {
    const bridge = this.inProcess;
    this.inProcess = undefined;
    await bridge?.stop();
  }

  /** Starts the bridge with the CLI in a child process (same config and database each time). */
  async startBridgeProcess(s: BridgeSettings = {}): Promise<BridgeProcess> {
    if (this.inProcess || this.process?.running) throw new Error("the bridge is running already");
    const configFile = join(this.dir, "config.yaml");
    const registrationFile = join(this.dir, "registration.yaml");
    writeFileSync(configFile, yaml.dump(this.rawConfig(s)));
    writeFileSync(registrationFile, yaml.dump(this.registration), { mode: 0o600 });
    this.process = await BridgeProcess.start({
      configFile,
      registrationFile,
      port: this.listen.port,
    });
    return this.process;
  }

  /**
   * One of several bridge processes on one PostgreSQL, with the CLI in a child process and a
   * config of its own (`config-<name>.yaml`). The one that takes the homeserver's pushes
   * (role intake or all) listens where the homeserver pushes and serves the partner
   * endpoints the gatekeeper calls; the others serve theirs on ports of their own. Hosted
   * media is in one folder for all, as on one machine.
   */
  async startScaledProcess(
    name: string,
    scale: ScaleSettings,
    s: BridgeSettings & { database: DatabaseChoice },
  ): Promise<BridgeProcess> {
    if (this.scaled.get(name)?.running) throw new Error(`bridge process ${name} is running`);
    const pushed = scale.role !== "worker";
    const partnerPort = pushed ? this.partnerPort : await freePort();
    const metricsPort = this.metricsPorts.get(name) ?? (await freePort());
    this.metricsPorts.set(name, metricsPort);
    const raw = this.rawConfig(s);
    const gatekeeper = raw.gatekeeper as Record<string, unknown>;
    const bridge = raw.bridge as Record<string, unknown>;
    const config = {
      ...raw,
      gatekeeper: { ...gatekeeper, listen: { port: partnerPort, bind_address: "127.0.0.1" } },
      bridge: { ...bridge, media: { directory: join(this.dir, "media") } },
      metrics: { enabled: true, port: metricsPort, bind_address: "127.0.0.1" },
      // E2E_SCALED_LOG=debug for a closer look at a failure.
      logging: { level: process.env.E2E_SCALED_LOG ?? "info", format: "json" },
      scale: {
        role: scale.role,
        ...(scale.workerId === undefined ? {} : { worker_id: scale.workerId }),
        ...(scale.leaseSeconds === undefined ? {} : { lease_seconds: scale.leaseSeconds }),
        ...(scale.renewSeconds === undefined ? {} : { renew_seconds: scale.renewSeconds }),
      },
    };
    const configFile = join(this.dir, `config-${name}.yaml`);
    const registrationFile = join(this.dir, "registration.yaml");
    writeFileSync(configFile, yaml.dump(config));
    writeFileSync(registrationFile, yaml.dump(this.registration), { mode: 0o600 });
    const started = await BridgeProcess.start({
      configFile,
      registrationFile,
      // A worker takes no pushes: its appservice port is never opened.
      port: pushed ? this.listen.port : await freePort(),
    });
    this.scaled.set(name, started);
    return started;
  }

  /** A metric of bridge process `name` (its value; NaN if it has none). */
  async metric(name: string, metric: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPorts.get(name)}/metrics`);
    const line = new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(await res.text());
    return line ? Number(line[1]) : NaN;
  }

  /** A registered Matrix user with a running client. */
  async matrixUser(localpart: string): Promise<MatrixActor> {
    const user = await this.target.registerUser(localpart);
    const actor = await MatrixActor.start(this.target.url, user, this.identity);
    this.matrixUsers.push(actor);
    return actor;
  }

  /** A connected native user, opted in to this bridge's partner unless `optIn` is false. */
  async nativeUser(
    name: string,
    options: { phone?: string; optIn?: boolean; groups?: boolean } = {},
  ): Promise<NativeActor> {
    const actor = await NativeActor.create(this.sandbox, {
      phone: options.phone ?? this.newPhone(),
      name,
      optIn: options.optIn === false ? false : [PARTNER_ID],
      dir: this.dir,
      ...(options.groups ? { groups: true } : {}),
    });
    this.natives.push(actor);
    return actor;
  }

  /** A fresh valid German mobile number (EEA). */
  newPhone(): string {
    this.phones += 1;
    return `+49151${20_000_000 + this.phones}`;
  }

  /** The one-time code the gatekeeper "texted" to `phone`. */
  readonly codeFor = async (phone: string): Promise<string> =>
    (await this.sandbox.admin.latestCode(phone)).code;

  async close(): Promise<void> {
    for (const u of this.matrixUsers) u.stop();
    for (const n of this.natives) await n.close().catch(() => undefined);
    await this.process?.kill();
    for (const p of this.scaled.values()) await p.kill();
    await this.stopBridge().catch(() => undefined);
    await this.sandbox.close();
    await this.target.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
