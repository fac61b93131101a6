/**
 * Wake-ups between the bridge's processes over PostgreSQL LISTEN/NOTIFY (issue 12,
 * docs/architecture.md "Several processes"): the process that receives the homeserver's pushes
 * stores the events and tells the workers "new events in these rooms", and forwards ephemeral
 * events (typing, receipts, presence), which are never stored. No extra service to run.
 *
 * A notification is lost when nobody listens at the moment it is sent, so a listener that lost
 * its connection is told (onReconnect) once it listens again, and looks at the database itself.
 * The listening connection is its own pg.Client, not one of knex's pool: LISTEN belongs to one
 * session, and a pooled connection would be handed to other queries and recycled.
 */
import { createRequire } from "node:module";
import type { Knex } from "knex";
import { backoffDelay, Sleeper } from "../core/backoff.js";
import type { CoreLogger } from "../core/logger.js";
import { errorText } from "../core/logger.js";

export interface PgChannelOptions {
  /** postgres:// URL: the listening connection is its own pg.Client, outside knex's pool. */
  url: string;
  /** Channel names to LISTEN on (lower-case identifiers, checked: /^[a-z_][a-z0-9_]{0,62}$/). */
  channels: readonly string[];
  onMessage(channel: string, payload: string): void;
  /**
   * Called after the listening connection was (re)established following a loss (not on the first
   * connect): notifications sent meanwhile are lost, so the caller looks at the database again.
   */
  onReconnect(): void;
  logger: CoreLogger;
  /** Backoff between reconnect attempts (default 500 ms doubling to 10 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Appended to the connection's application_name (`gkb-listen-<name>`), to tell it apart in pg_stat_activity. */
  name?: string;
}

/** PostgreSQL's limit is 8000 bytes; a little room is kept below it. */
export const MAX_PAYLOAD_BYTES = 7900;

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** A connect attempt that hangs (a black-holed address) counts as failed after this. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Idle time before TCP keepalive probes start, so a dead peer is noticed in minutes, not hours. */
const KEEPALIVE_DELAY_MS = 10_000;

// The part of `pg` used here, typed by hand: the project has no @types/pg. `pg` is CommonJS,
// so require() loads the same module `import pg from "pg"` would.
interface PgNotification {
  channel: string;
  payload?: string;
}
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: "notification", listener: (n: PgNotification) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: "end", listener: () => void): this;
}
interface PgClientConfig {
  connectionString: string;
  application_name: string;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
  connectionTimeoutMillis: number;
}
const pg = createRequire(import.meta.url)("pg") as {
  Client: new (config: PgClientConfig) => PgClient;
};

function checkChannel(channel: string): void {
  if (!CHANNEL_NAME.test(channel)) {
    throw new Error(`scale: bad channel name ${JSON.stringify(channel)} (lower-case identifier)`);
  }
}

export class PgChannel {
  /** The listening connection while it is up. */
  private client: PgClient | undefined;
  /** A connection being opened; stop() ends it so a hanging connect cannot hold stop up. */
  private connecting: PgClient | undefined;
  private reconnecting: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private readonly sleeper = new Sleeper();
  private readonly log: CoreLogger;

  constructor(private readonly o: PgChannelOptions) {
    if (o.channels.length === 0) throw new Error("scale: PgChannel needs at least one channel");
    for (const channel of o.channels) checkChannel(channel);
    this.log = o.logger;
  }

  /** Connects and LISTENs; resolves once listening (rejects if the first connect fails). */
  async start(): Promise<void> {
    if (this.started) throw new Error("scale: PgChannel started twice");
    this.started = true;
    const client = await this.connect();
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  /** Whether the listening connection is up now. */
  get listening(): boolean {
    return this.client !== undefined && !this.stopped;
  }

  /** Closes the listening connection; no reconnects after. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wakeAll();
    await this.connecting?.end().catch(() => undefined);
    await this.reconnecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<PgClient> {
    const client = new pg.Client({
      connectionString: this.o.url,
      application_name: this.o.name ? `gkb-listen-${this.o.name}` : "gkb-listen",
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    // The listeners stay for the client's whole life: a pg.Client that emits 'error' with no
    // listener would crash the process, even after it was given up.
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client, undefined));
    client.on("notification", (n) => this.deliver(client, n));
    this.connecting = client;
    try {
      await client.connect();
      for (const channel of this.o.channels) await client.query(`LISTEN "${channel}"`);
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    } finally {
      this.connecting = undefined;
    }
  }

  private deliver(client: PgClient, n: PgNotification): void {
    if (client !== this.client || this.stopped) return;
    try {
      this.o.onMessage(n.channel, n.payload ?? "");
    } catch (err) {
      // The handler runs inside pg's socket callback: a throw there would crash the process.
      this.log.warn("scale: handling a notification failed", {
        channel: n.channel,
        error: errorText(err),
      });
    }
  }

  /** The listening connection failed or closed: drop it and listen again on a new one. */
  private lost(client: PgClient, err: Error | undefined): void {
    if (client !== this.client || this.stopped) return;
    this.client = undefined;
    this.log.warn("scale: listening connection lost, reconnecting", {
      ...(err ? { error: errorText(err) } : {}),
    });
    void client.end().catch(() => undefined);
    this.reconnecting ??= this.reconnect().finally(() => (this.reconnecting = undefined));
  }

  private async reconnect(): Promise<void> {
    const backoff = { initialMs: 500, maxMs: 10_000, ...this.o.backoff };
    for (let attempt = 1; !this.stopped; attempt++) {
      await this.sleeper.sleep(backoffDelay(attempt, backoff));
      if (this.stopped) return;
      let client: PgClient;
      try {
        client = await this.connect();
      } catch (err) {
        if (!this.stopped) {
          this.log.warn("scale: reconnecting the listening connection failed", {
            attempt,
            error: errorText(err),
          });
        }
        continue;
      }
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.log.info("scale: listening again", { attempts: attempt });
      try {
        this.o.onReconnect();
      } catch (err) {
        this.log.warn("scale: onReconnect failed", { error: errorText(err) });
      }
      return;
    }
  }
}

/**
 * pg_notify through the pool (or inside a transaction: delivered at its commit). Throws if the
 * payload's UTF-8 is over MAX_PAYLOAD_BYTES.
 */
export async function notify(
  db: Knex | Knex.Transaction,
  channel: string,
  payload: string,
): Promise<void> {
  checkChannel(channel);
  const bytes = Buffer.byteLength(payload, "utf8");
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `scale: notification payload of ${bytes} bytes is over ${MAX_PAYLOAD_BYTES}`,
    );
  }
  await db.raw("select pg_notify(?, ?)", [channel, payload]);
}

/**
 * Splits items into payloads of JSON arrays each within MAX_PAYLOAD_BYTES (an item that alone is
 * too big throws).
 */
export function payloadsOf(items: readonly unknown[]): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2; // "[" and "]"
  for (const item of items) {
    const json = itemJson(item);
    const bytes = Buffer.byteLength(json, "utf8");
    if (bytes + 2 > MAX_PAYLOAD_BYTES) {
      throw new RangeError(
        `scale: one item of ${bytes} bytes does not fit a notification (${MAX_PAYLOAD_BYTES})`,
      );
    }
    const added = batch.length === 0 ? bytes : bytes + 1; // the comma
    if (size + added > MAX_PAYLOAD_BYTES) {
      payloads.push(`[${batch.join(",")}]`);
      batch = [];
      size = 2;
    }
    size += batch.length === 0 ? bytes : bytes + 1;
    batch.push(json);
  }
  if (batch.length > 0) payloads.push(`[${batch.join(",")}]`);
  return payloads;
}

/** Whether `item` fits a payload of its own (payloadsOf throws for one that does not). */
export function fitsOnePayload(item: unknown): boolean {
  return Buffer.byteLength(itemJson(item), "utf8") + 2 <= MAX_PAYLOAD_BYTES;
}

/** As inside JSON.stringify([...]): what JSON cannot hold (undefined, functions) is null. */
function itemJson(item: unknown): string {
  return JSON.stringify(item) ?? "null";
}
