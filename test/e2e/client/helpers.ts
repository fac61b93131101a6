/** Shared set-up for the GatekeeperClient end-to-end tests: a real sandbox, real SQLite files. */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../../../src/db/index.js";
import { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import type {
  GatekeeperClientEvents,
  GatekeeperClientOptions,
} from "../../../src/gatekeeper/client/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";

/** Temp directory + opened databases, cleaned up by `close()`. */
export class TestFiles {
  readonly dir = mkdtempSync(join(tmpdir(), "gk-client-e2e-"));
  private readonly dbs: Knex[] = [];
  private counter = 0;

  /** A migrated SQLite database in a fresh temp file. */
  async db(): Promise<Knex> {
    this.counter += 1;
    const db = await openDatabase({
      type: "sqlite",
      filename: join(this.dir, `client-${this.counter}.sqlite`),
    });
    await migrate(db);
    this.dbs.push(db);
    return db;
  }

  async close(): Promise<void> {
    for (const db of this.dbs.splice(0)) await db.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Fast reconnects so tests do not wait out the production backoff. */
export const FAST_RECONNECT = { initialMs: 20, maxMs: 200 } as const;

export function nativeClient(
  sandbox: Sandbox,
  user: NewUser,
  db: Knex,
  extra: Partial<GatekeeperClientOptions> = {},
): GatekeeperClient {
  return new GatekeeperClient({
    url: sandbox.url,
    serverStaticKey: sandbox.publicKey,
    db,
    account: { product: "native", accountId: user.accountId, token: user.token },
    reconnect: FAST_RECONNECT,
    ...extra,
  });
}

/** Records every payload of one event, and waits for the n-th. */
export class Recorder<K extends keyof GatekeeperClientEvents> {
  readonly items: GatekeeperClientEvents[K][] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(client: GatekeeperClient, event: K) {
    client.on(event, (payload) => {
      this.items.push(payload);
      this.waiters = this.waiters.filter((w) => {
        if (this.items.length < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Resolves once at least `n` events arrived; rejects after `timeoutMs`. */
  async waitFor(n: number, timeoutMs = 10_000): Promise<GatekeeperClientEvents[K][]> {
    if (this.items.length < n) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`waited for ${n} events, got ${this.items.length}`)),
          timeoutMs,
        );
        this.waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    }
    return this.items;
  }
}

/** Waits until `predicate` holds, polling (for state the test cannot subscribe to). */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

let phoneCounter = 0;
/** A fresh German mobile number per call (EEA, valid E.164). */
export function newPhone(): string {
  phoneCounter += 1;
  return `+49151${String(Date.now() % 100000).padStart(5, "0")}${String(phoneCounter).padStart(3, "0")}`;
}

/**
 * A TCP relay between a client and the sandbox, so a test can break the network under a live
 * connection: cut every socket (as a network failure does), refuse new connections, or
 * silently drop what the gatekeeper sends (so acks get lost).
 */
export class TcpRelay {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;
  /** While true, new connections are dropped at once. */
  refusing = false;
  /** While true, bytes from the gatekeeper to the client are discarded. */
  droppingDownstream = false;
  /** Bytes passed on from the gatekeeper to clients so far. */
  downstreamBytes = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  static async forSandbox(sandbox: Sandbox): Promise<TcpRelay> {
    const url = new URL(sandbox.httpUrl);
    const relay = new TcpRelay({ host: url.hostname, port: Number(url.port) });
    await relay.listen();
    return relay;
  }

  /** The chat URL through this relay. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/gki/1/chat`;
  }

  async listen(): Promise<void> {
    const server = createServer((inbound) => {
      if (this.refusing) {
        inbound.destroy();
        return;
      }
      const outbound = connect(this.target.port, this.target.host);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      inbound.on("data", (chunk) => outbound.write(chunk));
      outbound.on("data", (chunk) => {
        if (this.droppingDownstream) return;
        this.downstreamBytes += chunk.length;
        inbound.write(chunk);
      });
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Drops every open connection at once (no close frames, like a network failure). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
