/**
 * One bridge process among several on one PostgreSQL (docs/architecture.md, "Several
 * processes"). The intake side tells the workers what came (`IntakeNotices`: stored events'
 * rooms, and the ephemeral events, which are not stored); a worker (`ClusterWorker`) holds
 * login leases (LeaseKeeper), connects the logins it holds and only those, takes the queued
 * Matrix events of its logins' users, and hears the intake through LISTEN.
 */
import knexFactory from "knex";
import type { Knex } from "knex";
import type { CoreLogger } from "../core/logger.js";
import { errorText } from "../core/logger.js";
import type { MatrixEventSink } from "../core/matrix-events.js";
import type { LoginOwnership } from "../core/ownership.js";
import { LoginRepository } from "../db/repositories/logins.js";
import { MatrixIntakeRepository } from "../db/repositories/matrix-intake.js";
import { rowCacheOf } from "../db/repositories/row-cache.js";
import { LeaseKeeper } from "./lease-keeper.js";
import type { LeaseKeeperStats } from "./lease-keeper.js";
import { LeaseStore } from "./lease-store.js";
import type { LeaseHolder } from "./lease-store.js";
import { PgChannel, fitsOnePayload, notify, payloadsOf } from "./pg-channel.js";
import { checkWorkerId, thisInstance } from "./worker-identity.js";

/** Rooms with newly stored events (payload: a JSON array of room ids). */
export const INTAKE_CHANNEL = "gkb_intake";
/** Ephemeral events as the homeserver pushed them (payload: a JSON array of events). */
export const EPHEMERAL_CHANNEL = "gkb_ephemeral";
/** A process wrote portals, logins or users: the others forget their cached rows. */
export const ROWS_CHANNEL = "gkb_rows";

/**
 * Keeps the process's row cache (db/repositories/row-cache.ts) coherent with the other
 * processes on the database: each write to the cached tables is told to all with the write's
 * own transaction (so it arrives once committed), and a process told forgets its copies.
 * Returns what to do when told (also after the listening connection was lost).
 */
export function shareRowCache(db: Knex): () => void {
  const cache = rowCacheOf(db);
  cache.onWrite = (writer) => notify(writer, ROWS_CHANNEL, "");
  return () => cache.forget();
}

/**
 * The intake's side: tells every worker what came. The intake process (role intake) also
 * listens for row changes, for its own row cache (`listen`); a worker listens itself.
 */
export class IntakeNotices {
  private channel: PgChannel | undefined;

  constructor(
    private readonly db: Knex,
    private readonly logger: CoreLogger,
  ) {}

  /** Keeps this process's row cache coherent with the workers' writes (role intake). */
  async listen(databaseUrl: string): Promise<void> {
    const forgetRows = shareRowCache(this.db);
    this.channel = new PgChannel({
      url: databaseUrl,
      channels: [ROWS_CHANNEL],
      onMessage: forgetRows,
      onReconnect: forgetRows,
      name: "intake",
      logger: this.logger,
    });
    await this.channel.start();
  }

  async stop(): Promise<void> {
    await this.channel?.stop();
  }

  /** New events are stored in these rooms (the workers' polling finds them if this is lost). */
  stored(roomIds: readonly string[]): void {
    void this.send(INTAKE_CHANNEL, roomIds);
  }

  /** Ephemeral events: best effort, as the data itself. */
  ephemeral(events: readonly Record<string, unknown>[]): void {
    // One too big for a notification (a receipt of a very large room) is dropped alone; the
    // others go on.
    const small = events.filter((event) => {
      const fits = fitsOnePayload(event);
      if (!fits) this.logger.debug("an ephemeral event too big to pass on was dropped");
      return fits;
    });
    void this.send(EPHEMERAL_CHANNEL, small);
  }

  private async send(channel: string, items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return;
    try {
      for (const payload of payloadsOf(items)) await notify(this.db, channel, payload);
    } catch (err) {
      this.logger.warn("could not notify the workers", { channel, error: errorText(err) });
    }
  }
}

/** What a worker does with the logins it takes and gives up (the core's). */
export interface WorkerLogins {
  /** Connect these logins (in the background: a window of connections at a time). */
  take(loginIds: readonly string[]): Promise<void>;
  /** Close its connection at once, keeping its state: another worker takes it. */
  give(loginId: string): Promise<void>;
  /** Logins were taken: look for their queued Matrix events and pending sends. */
  resume(): void;
}

export interface ClusterWorkerOptions {
  db: Knex;
  /** postgres:// URL for the LISTEN connection. */
  databaseUrl: string;
  workerId: string;
  role: "all" | "worker";
  leaseMs: number;
  renewMs: number;
  logger: CoreLogger;
  /** The Matrix side's handler for ephemeral events heard from the intake. */
  onEphemeral(events: Record<string, unknown>[]): void;
  /** Rooms with new events heard from the intake (all rooms: look at the whole queue). */
  onIntake(roomIds: string[] | undefined): void;
}

export interface ClusterStats extends LeaseKeeperStats {
  workerId: string;
}

export class ClusterWorker implements LoginOwnership {
  readonly workerId: string;
  private readonly store: LeaseStore;
  private readonly leaseDb: Knex;
  private readonly lockDb: Knex;
  private readonly keeper: LeaseKeeper;
  private readonly channel: PgChannel;
  private readonly users: LoginRepository;
  private readonly intake: MatrixIntakeRepository;
  private readonly me = thisInstance();
  private logins: WorkerLogins | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private started = false;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ClusterWorkerOptions) {
    this.workerId = o.workerId;
    // The leases' own connections: a renewal never waits behind the bridge's work for one
    // of the pool's (a worker taking many logins over keeps the pool busy for a while).
    this.leaseDb = knexFactory({
      client: "pg",
      connection: o.databaseUrl,
      pool: { min: 0, max: 2 },
    });
    this.store = new LeaseStore(this.leaseDb);
    this.lockDb = knexFactory({
      client: "pg",
      connection: o.databaseUrl,
      pool: { min: 0, max: 4 },
    });
    this.users = new LoginRepository(o.db);
    this.intake = new MatrixIntakeRepository(o.db);
    this.keeper = new LeaseKeeper({
      store: this.store,
      workerId: o.workerId,
      role: o.role,
      leaseMs: o.leaseMs,
      renewMs: o.renewMs,
      instance: this.me,
      acquired: async (leases) => {
        const ids = leases.map((l) => l.loginId);
        // The previous holders' claims on these users' queued events are void now.
        const mxids = (await this.users.getMany(ids)).map((l) => l.mxid);
        await this.intake.releaseClaims(mxids, o.workerId);
        await this.logins?.take(ids);
        this.resumeSoon();
      },
      lost: async (loginId) => {
        await this.logins?.give(loginId);
      },
      logger: o.logger,
    });
    const forgetRows = shareRowCache(o.db);
    this.channel = new PgChannel({
      url: o.databaseUrl,
      channels: [INTAKE_CHANNEL, EPHEMERAL_CHANNEL, ROWS_CHANNEL],
      onMessage: (channel, payload) =>
        channel === ROWS_CHANNEL ? forgetRows() : this.heard(channel, payload),
      // Notices sent while the connection was down are lost: forget every cached row, and
      // look at the whole queue.
      onReconnect: () => {
        forgetRows();
        o.onIntake(undefined);
      },
      name: o.workerId,
      logger: o.logger,
    });
  }

  owns(loginId: string): boolean {
    return this.keeper.lease(loginId) !== undefined;
  }

  /** Whether this worker acts for the Matrix user (holds their login's lease). */
  async ownsUser(mxid: string): Promise<boolean> {
    const login = await this.users.getByMxid(mxid);
    return login !== undefined && this.owns(login.id);
  }

  use(loginId: string): (() => void) | undefined {
    return this.keeper.use(loginId);
  }

  /** A login this worker has just made: it keeps it if nobody holds it. */
  adopt(loginId: string): Promise<boolean> {
    return this.keeper.adopt(loginId);
  }

  holder(loginId: string): Promise<LeaseHolder | undefined> {
    return this.store.holder(loginId);
  }

  liveWorkers(): Promise<number> {
    return this.store.liveWorkers();
  }

  /**
   * A transaction-scoped advisory lock on `key`, on connections of its own (a few, so that
   * work under the lock, which uses the main pool, can never starve it). Released when
   * `fn` ends, or when the process dies (its connection closes).
   */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.lockDb.transaction(async (trx) => {
      await trx.raw("select pg_advisory_xact_lock(hashtext(?))", [`gkb\n${key}`]);
      // What another process wrote under the lock: read from the database, not the cache.
      rowCacheOf(this.o.db).forget();
      return fn();
    });
  }

  stats(): ClusterStats {
    return { workerId: this.workerId, ...this.keeper.stats() };
  }

  /**
   * Refuses a worker id a live process holds; then listens, takes its logins (`logins`
   * connects them), and looks at the queue every round in case a notice was lost.
   */
  async start(logins: WorkerLogins): Promise<void> {
    this.logins = logins;
    await checkWorkerId(this.store, this.workerId, this.me, Math.round(this.o.renewMs * 1.5));
    this.started = true;
    await this.channel.start();
    await this.keeper.start();
    // A notice lost (the listening connection was down) or a row written elsewhere: every
    // round looks at the whole queue and outbox for this worker's logins.
    const poll = (): void => {
      this.pollTimer = setTimeout(() => {
        this.logins?.resume();
        poll();
      }, this.o.renewMs);
      this.pollTimer.unref();
    };
    poll();
  }

  /** Gives every login up (each closed first), so the others take them at once. */
  async stop(): Promise<void> {
    clearTimeout(this.pollTimer);
    clearTimeout(this.resumeTimer);
    await this.channel.stop();
    // Refused (the id is a live twin's): nothing of this process to give up, and its row
    // is the twin's.
    if (this.started) await this.keeper.stop();
    await this.leaseDb.destroy();
    await this.lockDb.destroy();
  }

  /** A sink that passes on only what concerns the users of the logins this worker holds. */
  ownedUsersOnly(sink: MatrixEventSink): MatrixEventSink {
    const mine = (mxid: string): Promise<boolean> => this.ownsUser(mxid);
    return {
      ...sink,
      onReadReceipt: async (roomId, userMxid, eventId, ts) => {
        if (await mine(userMxid)) await sink.onReadReceipt?.(roomId, userMxid, eventId, ts);
      },
      onTyping: async (roomId, userMxid, typing) => {
        if (await mine(userMxid)) await sink.onTyping?.(roomId, userMxid, typing);
      },
      onPresence: async (userMxid, presence) => {
        if (await mine(userMxid)) await sink.onPresence?.(userMxid, presence);
      },
    };
  }

  /** Many logins are taken in one round: look for their work once, shortly after. */
  private resumeSoon(): void {
    if (this.resumeTimer) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.logins?.resume();
    }, 50);
  }

  private heard(channel: string, payload: string): void {
    let items: unknown;
    try {
      items = JSON.parse(payload);
    } catch {
      return;
    }
    if (!Array.isArray(items)) return;
    if (channel === INTAKE_CHANNEL) {
      this.o.onIntake(items.filter((r): r is string => typeof r === "string"));
    } else if (channel === EPHEMERAL_CHANNEL) {
      this.o.onEphemeral(
        items.filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null),
      );
    }
  }
}
