/**
 * Login leases and worker heartbeats in the database (migration 013). Every time is the
 * database's own clock (PostgreSQL's clock_timestamp()), so that machines whose clocks
 * differ agree on what has expired. A lease changes hands only when it expired or was
 * released, and each new owner gets a higher epoch: the fencing token a write can be checked
 * against (`fence`), which holds the lease row for the rest of that transaction.
 */
import type { Knex } from "knex";
import { num } from "../db/repositories/columns.js";
import { NOW_MS_SQL, dialectOf } from "../util/sql-dialect.js";

const WORKERS = "bridge_workers";
const LEASES = "bridge_login_leases";
const LOGINS = "bridge_logins";

/** A login this worker owns, with the epoch it owns it at. */
export interface HeldLease {
  loginId: string;
  epoch: number;
  /** Claimed from a holder whose lease ran out (it died or froze), not released. */
  takenOver?: boolean;
}

/** One process's identity behind a worker id (it changes at every start). */
export interface WorkerInstance {
  host: string;
  pid: number;
  /** Random per start. */
  instance: string;
}

/** A worker id's row. */
export interface WorkerRow {
  host: string | null;
  pid: number | null;
  instance: string | null;
  /** The database's ms. */
  heartbeatAt: number;
  /** Its heartbeat has not expired. */
  live: boolean;
}

/** Who holds a login (for `status`): undefined if nobody does (released or expired). */
export interface LeaseHolder {
  workerId: string;
  epoch: number;
  /** ms until it expires unless renewed. */
  expiresInMs: number;
}

export class LeaseStore {
  private readonly postgres: boolean;
  private readonly nowSql: string;

  constructor(private readonly db: Knex) {
    const dialect = dialectOf(db);
    this.postgres = dialect === "postgres";
    this.nowSql = NOW_MS_SQL[dialect];
  }

  private get now(): Knex.Raw {
    return this.db.raw(this.nowSql);
  }

  private later(ms: number): Knex.Raw {
    return this.db.raw(`(${this.nowSql} + ?)`, [ms]);
  }

  /**
   * The worker is alive until `leaseMs` from now. With `me`, only while the row is this
   * process's (`register`): answers false when another process has taken the worker id over.
   */
  async heartbeat(
    workerId: string,
    role: string,
    leaseMs: number,
    me?: WorkerInstance,
  ): Promise<boolean> {
    if (me) {
      const n = await this.db(WORKERS)
        .where({ worker_id: workerId, instance: me.instance })
        .update({ heartbeat_at: this.now, expires_at: this.later(leaseMs), role });
      return n === 1;
    }
    await this.db(WORKERS)
      .insert({
        worker_id: workerId,
        role,
        started_at: this.now,
        heartbeat_at: this.now,
        expires_at: this.later(leaseMs),
      })
      .onConflict("worker_id")
      .merge({ heartbeat_at: this.now, expires_at: this.later(leaseMs), role });
    return true;
  }

  /** The row of a worker id, if any, and whether its heartbeat is live. */
  async worker(workerId: string): Promise<WorkerRow | undefined> {
    const row = (await this.db(WORKERS)
      .where({ worker_id: workerId })
      .first(
        "host",
        "pid",
        "instance",
        "heartbeat_at",
        this.db.raw(`(expires_at > ${this.nowSql}) as live`),
      )) as
      | {
          host: string | null;
          pid: number | string | null;
          instance: string | null;
          heartbeat_at: number | string;
          live: boolean | number;
        }
      | undefined;
    if (!row) return undefined;
    return {
      host: row.host,
      pid: row.pid === null ? null : num(row.pid),
      instance: row.instance,
      heartbeatAt: num(row.heartbeat_at),
      live: row.live === true || row.live === 1,
    };
  }

  /**
   * Writes this process into the worker id's row (it is the id's process from now on; see
   * Worker identity in scale/worker-identity.ts), and takes the leases the id still holds,
   * each at a new epoch: a dead predecessor with the same id can write nothing more.
   */
  async register(
    workerId: string,
    role: string,
    leaseMs: number,
    me: WorkerInstance,
  ): Promise<HeldLease[]> {
    return this.db.transaction(async (trx) => {
      const fields = { role, host: me.host, pid: me.pid, instance: me.instance };
      await trx(WORKERS)
        .insert({
          worker_id: workerId,
          ...fields,
          started_at: this.now,
          heartbeat_at: this.now,
          expires_at: this.later(leaseMs),
        })
        .onConflict("worker_id")
        .merge({
          ...fields,
          started_at: this.now,
          heartbeat_at: this.now,
          expires_at: this.later(leaseMs),
        });
      const rows = (await trx(LEASES)
        .where({ worker_id: workerId })
        .update({
          epoch: trx.raw("epoch + 1"),
          expires_at: this.later(leaseMs),
          acquired_at: this.now,
        })
        .returning(["login_id", "epoch"])) as { login_id: string; epoch: number | string }[];
      return rows.map((r) => ({ loginId: r.login_id, epoch: num(r.epoch) }));
    });
  }

  /** The worker stopped: it counts no more for the share of logins. */
  async retire(workerId: string): Promise<void> {
    await this.db(WORKERS).where({ worker_id: workerId }).delete();
  }

  /** Workers alive now (their heartbeat not expired). */
  async liveWorkers(): Promise<number> {
    const row = (await this.db(WORKERS)
      .where("expires_at", ">", this.now)
      .count({ n: "*" })
      .first()) as { n: number | string };
    return num(row.n);
  }

  /** Logins that should be connected somewhere (every one not logged out). */
  async activeLogins(): Promise<number> {
    const row = (await this.db(LOGINS)
      .whereNot({ state: "logged-out" })
      .count({ n: "*" })
      .first()) as { n: number | string };
    return num(row.n);
  }

  /**
   * Extends the leases the worker still holds (same epoch, not expired) by `leaseMs`; answers
   * the ones renewed. A lease missing from the answer is lost: it expired (and may have a new
   * owner already), or the login is gone.
   */
  async renew(workerId: string, held: readonly HeldLease[], leaseMs: number): Promise<string[]> {
    const renewed: string[] = [];
    for (let i = 0; i < held.length; i += 500) {
      const batch = held.slice(i, i + 500);
      const rows = (await this.db(LEASES)
        .where({ worker_id: workerId })
        .andWhere("expires_at", ">", this.now)
        .andWhere((q) => {
          for (const h of batch) q.orWhere({ login_id: h.loginId, epoch: h.epoch });
        })
        .update({ expires_at: this.later(leaseMs) })
        .returning("login_id")) as { login_id: string }[];
      renewed.push(...rows.map((r) => r.login_id));
    }
    return renewed;
  }

  /**
   * Takes up to `max` logins nobody holds (never leased, released, or expired), oldest expiry
   * first; answers them with their new epochs. Two workers claiming at once never take the
   * same login (rows being taken are skipped, and the update checks the expiry again).
   */
  async claim(workerId: string, max: number, leaseMs: number): Promise<HeldLease[]> {
    if (max <= 0) return [];
    const claimed: HeldLease[] = [];
    // Logins never leased: a row each. Not one that a `login` has just made: the process
    // that made it keeps it a moment later (`claimOne`), and the user's `verify` is to come
    // to the connection that sent the code. Should its maker die before keeping it, it is
    // taken once a lease's time has passed. (The login's times are its writer's clock.)
    const made = Date.now() - leaseMs;
    const fresh = (await this.db(LOGINS)
      .leftJoin(LEASES, `${LEASES}.login_id`, `${LOGINS}.id`)
      .whereNull(`${LEASES}.login_id`)
      .whereNot(`${LOGINS}.state`, "logged-out")
      .where((q) =>
        q.whereNot(`${LOGINS}.state`, "enlisting").orWhere(`${LOGINS}.updated_at`, "<=", made),
      )
      .orderBy(`${LOGINS}.created_at`)
      .limit(max)
      .select(`${LOGINS}.id as id`)) as { id: string }[];
    if (fresh.length > 0) {
      const rows = (await this.db(LEASES)
        .insert(
          fresh.map((f) => ({
            login_id: f.id,
            worker_id: workerId,
            epoch: 1,
            expires_at: this.later(leaseMs),
            acquired_at: this.now,
          })),
        )
        .onConflict("login_id")
        .ignore()
        .returning(["login_id", "epoch"])) as { login_id: string; epoch: number | string }[];
      claimed.push(...rows.map((r) => ({ loginId: r.login_id, epoch: num(r.epoch) })));
    }
    const left = max - claimed.length;
    if (left <= 0) return claimed;
    // Released or expired: the next epoch. Locked while taken, so two workers claiming at
    // once skip each other's rows; the update checks the expiry again.
    const taken = await this.db.transaction(async (trx) => {
      let candidates = trx(LEASES)
        .join(LOGINS, `${LOGINS}.id`, `${LEASES}.login_id`)
        .where(`${LEASES}.expires_at`, "<=", trx.raw(this.nowSql))
        .whereNot(`${LOGINS}.state`, "logged-out")
        .orderBy(`${LEASES}.expires_at`)
        .limit(left)
        .select(`${LEASES}.login_id as login_id`, `${LEASES}.worker_id as worker_id`);
      if (this.postgres) candidates = candidates.forUpdate(LEASES).skipLocked();
      const free = (await candidates) as { login_id: string; worker_id: string | null }[];
      if (free.length === 0) return [];
      const rows = (await trx(LEASES)
        .whereIn(
          "login_id",
          free.map((f) => f.login_id),
        )
        .andWhere("expires_at", "<=", trx.raw(this.nowSql))
        .update({
          worker_id: workerId,
          epoch: trx.raw("epoch + 1"),
          expires_at: trx.raw(`(${this.nowSql} + ?)`, [leaseMs]),
          acquired_at: trx.raw(this.nowSql),
        })
        .returning(["login_id", "epoch"])) as { login_id: string; epoch: number | string }[];
      // Released leases have no worker; an expired one still names its (dead) holder.
      const expired = new Set(free.filter((f) => f.worker_id !== null).map((f) => f.login_id));
      return rows.map((r) => ({
        loginId: r.login_id,
        epoch: num(r.epoch),
        takenOver: expired.has(r.login_id),
      }));
    });
    claimed.push(...taken);
    return claimed;
  }

  /**
   * Takes this one login if nobody holds it (never leased, released or expired): a worker
   * that has just made a login (`login <phone>`) keeps it, so the user's next command comes
   * to the process that holds its connection.
   */
  async claimOne(
    workerId: string,
    loginId: string,
    leaseMs: number,
  ): Promise<HeldLease | undefined> {
    const lease = {
      worker_id: workerId,
      expires_at: this.later(leaseMs),
      acquired_at: this.now,
    };
    const fresh = (await this.db(LEASES)
      .insert({ login_id: loginId, epoch: 1, ...lease })
      .onConflict("login_id")
      .ignore()
      .returning(["login_id", "epoch"])) as { login_id: string; epoch: number | string }[];
    const taken =
      fresh.length > 0
        ? fresh
        : ((await this.db(LEASES)
            .where({ login_id: loginId })
            .andWhere("expires_at", "<=", this.now)
            .update({ ...lease, epoch: this.db.raw("epoch + 1") })
            .returning(["login_id", "epoch"])) as { login_id: string; epoch: number | string }[]);
    const row = taken[0];
    return row ? { loginId: row.login_id, epoch: num(row.epoch) } : undefined;
  }

  /** Which of these logins are being logged in (a code sent, `verify` to come). */
  async enlisting(loginIds: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < loginIds.length; i += 500) {
      const rows = (await this.db(LOGINS)
        .whereIn("id", loginIds.slice(i, i + 500))
        .where({ state: "enlisting" })
        .select("id")) as { id: string }[];
      out.push(...rows.map((r) => r.id));
    }
    return out;
  }

  /** Gives the login up at once (a graceful stop, or rebalancing): anyone may take it now. */
  async release(workerId: string, lease: HeldLease): Promise<void> {
    await this.db(LEASES)
      .where({ login_id: lease.loginId, worker_id: workerId, epoch: lease.epoch })
      .update({ worker_id: null, expires_at: 0 });
  }

  async holder(loginId: string): Promise<LeaseHolder | undefined> {
    const row = (await this.db(LEASES)
      .where({ login_id: loginId })
      .andWhere("expires_at", ">", this.now)
      .whereNotNull("worker_id")
      .first("worker_id", "epoch", this.db.raw(`expires_at - ${this.nowSql} as left_ms`))) as
      { worker_id: string; epoch: number | string; left_ms: number | string } | undefined;
    return row
      ? { workerId: row.worker_id, epoch: num(row.epoch), expiresInMs: num(row.left_ms) }
      : undefined;
  }

  /**
   * Inside a transaction: whether the worker still holds the login at `epoch`. On PostgreSQL
   * the lease row stays locked (FOR SHARE) until the transaction ends, so a takeover waits
   * for the write it fences, and a write never commits after its lease was taken.
   */
  async fence(trx: Knex.Transaction, workerId: string, lease: HeldLease): Promise<boolean> {
    let q = trx(LEASES)
      .where({ login_id: lease.loginId, worker_id: workerId, epoch: lease.epoch })
      .andWhere("expires_at", ">", this.now)
      .first("login_id");
    if (this.postgres) q = q.forShare();
    return (await q) !== undefined;
  }
}
