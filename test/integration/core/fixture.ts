/**
 * The core on real parts: the sandbox gatekeeper, the bridge's partner endpoints (the
 * sandbox calls them to authenticate our users), GatekeeperNetwork with real clients, real
 * SQLite; only the Matrix side is a recording stand-in. Native users are real
 * GatekeeperClients on their own databases.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { parseConfig } from "../../../src/config/index.js";
import type { Config } from "../../../src/config/index.js";
import { BridgeCore } from "../../../src/core/bridge-core.js";
import type { BridgeContent } from "../../../src/core/content.js";
import type { LoginOwnership } from "../../../src/core/ownership.js";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { LoginRepository } from "../../../src/db/repositories/index.js";
import { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import {
  AUTH_PATH,
  GatekeeperNetwork,
  startPartnerEndpoints,
} from "../../../src/connector/index.js";
import type { PartnerEndpoints } from "../../../src/connector/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { Sandbox, SandboxLimits } from "../../../src/sandbox/index.js";
import { openTestDatabase } from "../db/databases.js";
import type { TestDatabaseKind } from "../db/databases.js";
import { RecordingMatrixSide } from "./recording-matrix-side.js";

export const PARTNER_ID = "matrix";
export const PARTNER_SECRET = "core-test-partner-secret";
const FAST = { initialMs: 20, maxMs: 200 } as const;

let phones = 0;
/** A fresh German mobile number (EEA, valid). */
export function newPhone(): string {
  phones += 1;
  const n = (Date.now() % 100_000) * 1000 + (phones % 1000);
  return `+49151${String(n).padStart(8, "0")}`;
}

/** Polls `read` until it gives a value (for state written just after what a test can await). */
export async function eventually<T>(
  read: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error("the expected state did not appear in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface NativeUser {
  phone: string;
  jid: string;
  name: string;
  client: GatekeeperClient;
  received: MessageEvent[];
  /** Resolves with the received messages once there are at least `n`. */
  waitFor(n: number, timeoutMs?: number): Promise<MessageEvent[]>;
}

export interface FixtureOptions {
  /** The bridge's database (default SQLite); native users always use SQLite. */
  database?: TestDatabaseKind;
  limits?: Partial<SandboxLimits>;
  maxSendAttempts?: number;
  messageRequests?: boolean;
}

export class CoreFixture {
  readonly matrix = new RecordingMatrixSide();
  network!: GatekeeperNetwork;
  core!: BridgeCore;
  config!: Config;
  private natives: GatekeeperClient[] = [];
  private extraDbs: Knex[] = [];
  private eventCounter = 0;

  private constructor(
    readonly dir: string,
    readonly db: Knex,
    readonly sandbox: Sandbox,
    readonly endpoints: PartnerEndpoints,
    private readonly closeDatabase: () => Promise<void>,
  ) {}

  static async start(options: FixtureOptions = {}): Promise<CoreFixture> {
    const dir = mkdtempSync(join(tmpdir(), "gkb-core-"));
    const database = await openTestDatabase(options.database ?? "sqlite", { migrate: true });
    const db = database.db;
    const logins = new LoginRepository(db);
    const endpoints = await startPartnerEndpoints({
      partnerId: PARTNER_ID,
      partnerSecret: PARTNER_SECRET,
      verify: async (accountId, token) => {
        const login = await logins.verifyToken(accountId, token);
        return login && { phone: login.phone };
      },
      port: 0,
      bindAddress: "127.0.0.1",
    });
    const sandbox = await startSandbox({
      partners: [{ id: PARTNER_ID, authUrl: endpoints.url + AUTH_PATH, secret: PARTNER_SECRET }],
      ...(options.limits ? { limits: options.limits } : {}),
    });
    const f = new CoreFixture(dir, db, sandbox, endpoints, () => database.close());
    f.config = parseConfig(
      {
        homeserver: { url: "http://127.0.0.1:9", domain: "test.local" },
        gatekeeper: {
          url: sandbox.url,
          static_key: sandbox.publicKeyBase64,
          partner_id: PARTNER_ID,
          partner_secret: PARTNER_SECRET,
          public_base_url: endpoints.url,
        },
        database: { type: "sqlite", filename: join(dir, "bridge.sqlite") },
        bridge: {
          permissions: { "test.local": "user" },
          max_send_attempts: options.maxSendAttempts ?? 10,
          message_requests: options.messageRequests ?? true,
        },
      },
      "test config",
      {},
    );
    await f.startCore();
    return f;
  }

  /** (Re)creates the network and the core on the same database, as a bridge restart does. */
  async startCore(
    options: { gatekeeperUrl?: string; ownership?: LoginOwnership } = {},
  ): Promise<void> {
    this.network = this.newNetwork(options);
    this.core = new BridgeCore({
      config: this.config,
      db: this.db,
      network: this.network,
      matrix: this.matrix,
      relayIn: { backoff: FAST, maxAttempts: 3 },
      relayOut: { backoff: { initialMs: 50, maxMs: 200 }, stopGraceMs: 2_000 },
      ...(options.ownership ? { ownership: options.ownership } : {}),
    });
    await this.core.start();
  }

  /** A gatekeeper network on the fixture's database and sandbox, as startCore makes it. */
  newNetwork(options: { gatekeeperUrl?: string } = {}): GatekeeperNetwork {
    return new GatekeeperNetwork({
      url: options.gatekeeperUrl ?? this.sandbox.url,
      serverStaticKey: this.sandbox.publicKey,
      partnerId: PARTNER_ID,
      db: this.db,
      sendTimeoutMs: 5_000,
      startRetry: FAST,
      client: { reconnect: FAST, iqTimeoutMs: 5_000 },
    });
  }

  async stopCore(): Promise<void> {
    await this.core.stop();
    await this.network.stop();
  }

  /** The user opens a DM with the bot; returns the management room. */
  async dm(mxid: string): Promise<string> {
    const roomId = `!dm${++this.eventCounter}:test.local`;
    await this.core.onBotInvited(roomId, mxid, true);
    return roomId;
  }

  /** `mxid` writes `text` in `roomId`; returns the event id. */
  async write(
    mxid: string,
    roomId: string,
    text: string,
    content?: BridgeContent,
  ): Promise<string> {
    const eventId = `$mx${++this.eventCounter}`;
    await this.core.onRoomMessage({
      roomId,
      eventId,
      sender: mxid,
      timestamp: Date.now(),
      body: text,
      content: content ?? { kind: "text", text },
    });
    return eventId;
  }

  /** Sends a command and returns the notices it produced in that room. */
  async command(mxid: string, roomId: string, text: string): Promise<string[]> {
    const before = this.matrix.notices(roomId).length;
    await this.write(mxid, roomId, text);
    return this.matrix.notices(roomId).slice(before);
  }

  /** DM, login and verify; returns the management room. */
  async login(mxid: string, phone: string): Promise<string> {
    const room = await this.dm(mxid);
    const sent = await this.command(mxid, room, `login ${phone}`);
    if (!sent.join().includes("code")) throw new Error(`login failed: ${sent.join(" | ")}`);
    const { code } = await this.sandbox.admin.latestCode(phone);
    const verified = await this.command(mxid, room, `verify ${code}`);
    if (!verified.join().includes("logged in"))
      throw new Error(`verify failed: ${verified.join(" | ")}`);
    return room;
  }

  /** A native gatekeeper user who accepts chats from every partner, connected. */
  async nativeUser(name: string, phone = newPhone()): Promise<NativeUser> {
    const user = await this.sandbox.admin.addUser({ phone, name });
    await this.sandbox.admin.updateSettings(phone, { enabled: true, partners: "*" });
    const db = await openDatabase({
      type: "sqlite",
      filename: join(this.dir, `native-${phone}.sqlite`),
    });
    await migrate(db);
    this.extraDbs.push(db);
    const client = new GatekeeperClient({
      url: this.sandbox.url,
      serverStaticKey: this.sandbox.publicKey,
      db,
      account: { product: "native", accountId: user.accountId, token: user.token, pushName: name },
      reconnect: FAST,
    });
    const received: MessageEvent[] = [];
    const waiters: (() => void)[] = [];
    client.on("message", (m) => {
      received.push(m);
      for (const w of waiters.splice(0)) w();
    });
    await client.start();
    this.natives.push(client);
    const waitFor = async (n: number, timeoutMs = 10_000): Promise<MessageEvent[]> => {
      const end = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > end) throw new Error(`${name} got ${received.length} of ${n} messages`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 200);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return received;
    };
    return { phone, jid: user.jid, name, client, received, waitFor };
  }

  async close(): Promise<void> {
    await this.stopCore().catch(() => undefined);
    for (const c of this.natives) await c.stop();
    await this.sandbox.close();
    await this.endpoints.close();
    for (const db of this.extraDbs) await db.destroy();
    await this.closeDatabase();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
