import type { Knex } from "knex";
import { NOW_MS_SQL, dialectOf } from "../../util/sql-dialect.js";
import { errorText, num } from "./columns.js";
import { RepositoryError } from "./errors.js";

/**
 * Durable intake of appservice transactions (tables as_transactions, matrix_event_queue).
 * The appservice answers a transaction only after storeTransaction committed, so an event
 * the homeserver delivered is never lost; event ids make a retried transaction harmless
 * (txn ids are kept only to tell a retry from a reused id in the logs). Workers then take
 * events per room, in arrival order.
 */
export type QueuedEventState = "queued" | "done" | "failed";

/** A Matrix event as pushed by the homeserver (only the fields the queue needs are typed). */
export interface IntakeEvent {
  event_id: string;
  room_id: string;
  [field: string]: unknown;
}

export interface QueuedEvent {
  seq: number;
  eventId: string;
  roomId: string;
  /** The event; null once done (only its id is kept, to recognise a redelivery). */
  event: IntakeEvent | null;
  state: QueuedEventState;
  attempts: number;
  /** Not to be handled before this time (ms); set by reschedule. */
  nextAttemptAt: number;
  lastError: string | null;
  receivedAt: number;
}

/**
 * Which queued events a worker takes when several processes share the database
 * (docs/architecture.md, "Several processes"): those whose sender's login it holds the lease
 * of, and those of senders with no login; and of these only the ones no other worker has
 * claimed (`claim`). Without a scope (one process) every event is taken.
 */
export interface IntakeScope {
  workerId: string;
}

/** What storeTransaction did with a transaction's events. */
export interface StoredTransaction {
  /** The txn id was stored before: a retry, or an id the homeserver reused. */
  txnSeen: boolean;
  /** Event ids stored now (in the transaction's order). */
  stored: string[];
  /** Event ids that were stored before (by an earlier delivery) and so skipped. */
  alreadyStored: string[];
}

interface QueueRow {
  seq?: number | string;
  event_id: string;
  room_id: string;
  sender?: string | null;
  claimed_by?: string | null;
  claimed_until?: number | string | null;
  json: string | null;
  state: string;
  attempts: number;
  next_attempt_at: number | string;
  last_error: string | null;
  received_at: number | string;
}

interface TxnRow {
  txn_id: string;
  received_at: number | string;
}

const TXNS = "as_transactions";
const QUEUE = "matrix_event_queue";
const LOGINS = "bridge_logins";
const LEASES = "bridge_login_leases";
// 100 rows x 10 columns stays under SQLite's oldest limit of 999 bound variables.
const INSERT_CHUNK = 100;

export class MatrixIntakeRepository {
  private readonly nowSql: string;
  /**
   * A queued event this worker may take (one binding: the worker id): nobody claims it, this
   * worker does, or the claim ran out (its worker died), by the database's clock.
   */
  private readonly claimableSql: string;

  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {
    this.nowSql = NOW_MS_SQL[dialectOf(db)];
    this.claimableSql = `(claimed_by is null or claimed_by = ? or claimed_until <= ${this.nowSql})`;
  }

  /**
   * Stores a transaction's events and its txn id in one database transaction: either all of
   * it is stored or (on any error) none. Events are deduplicated by event id only: a txn id
   * is the homeserver's retry marker, not an identity (Synapse starts its ids at 1 again
   * after a restart), so a repeated txn id with new events is new work.
   */
  async storeTransaction(
    txnId: string,
    events: readonly IntakeEvent[],
    now = Date.now(),
    /**
     * Events known to need no handling (the bridge's own echoes): stored as done, for the
     * dedupe and the catch-up's list of active rooms, but never queued for a worker.
     */
    settled?: (event: IntakeEvent) => boolean,
  ): Promise<StoredTransaction> {
    const rows = uniqueRows(events, now, settled);
    return this.db.transaction(async (trx) => {
      const seen = (await trx<TxnRow>(TXNS).where({ txn_id: txnId }).first()) !== undefined;
      await trx<TxnRow>(TXNS)
        .insert({ txn_id: txnId, received_at: now })
        .onConflict("txn_id")
        .merge(["received_at"]);
      const stored = new Set<string>();
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const inserted = await trx<QueueRow>(QUEUE)
          .insert(rows.slice(i, i + INSERT_CHUNK))
          .onConflict("event_id")
          .ignore()
          .returning("event_id");
        for (const r of inserted) stored.add(typeof r === "string" ? r : r.event_id);
      }
      return {
        txnSeen: seen,
        stored: rows.filter((r) => stored.has(r.event_id)).map((r) => r.event_id),
        alreadyStored: rows.filter((r) => !stored.has(r.event_id)).map((r) => r.event_id),
      };
    });
  }

  async hasTransaction(txnId: string): Promise<boolean> {
    return (await this.db<TxnRow>(TXNS).where({ txn_id: txnId }).first()) !== undefined;
  }

  /** Rooms that got events received since `since` (ms). */
  async recentRooms(since: number): Promise<string[]> {
    const rows = await this.db<QueueRow>(QUEUE)
      .where("received_at", ">=", since)
      .distinct("room_id");
    return rows.map((r) => String(r.room_id));
  }

  /** Which of these event ids are stored (in any state). */
  async knownEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (let i = 0; i < eventIds.length; i += INSERT_CHUNK) {
      const rows = await this.db<QueueRow>(QUEUE)
        .whereIn("event_id", eventIds.slice(i, i + INSERT_CHUNK))
        .select("event_id");
      for (const r of rows) known.add(r.event_id);
    }
    return known;
  }

  /**
   * The oldest queued event (of one room, if given), due or not: a room's events are
   * handled in order, so a rescheduled event holds back the ones after it. Check
   * nextAttemptAt before handling it.
   */
  async nextQueued(roomId?: string): Promise<QueuedEvent | undefined> {
    const row = await this.db<QueueRow>(QUEUE)
      .where({ state: "queued", ...(roomId !== undefined ? { room_id: roomId } : {}) })
      .orderBy("seq")
      .first();
    return row ? toQueued(row) : undefined;
  }

  /**
   * What a room's worker takes next: the room's oldest queued event that is due at `now`
   * (ms), or, when none is, the queued one due soonest (check nextAttemptAt). Unlike
   * nextQueued, an event rescheduled into the future lets the room's later events pass.
   */
  async nextDue(
    roomId: string,
    now: number,
    scope?: IntakeScope,
  ): Promise<QueuedEvent | undefined> {
    // One statement (it runs after every handled event, and usually finds nothing): due
    // events first by seq, then the others by when they are due. A room has few queued rows.
    const query = this.scoped(scope)
      .where({ state: "queued", room_id: roomId })
      .orderByRaw(
        "case when next_attempt_at <= ? then 0 else 1 end, " +
          "case when next_attempt_at <= ? then 0 else next_attempt_at end, seq",
        [now, now],
      );
    // With a scope, whether the event's claim lets this worker have it comes in the same row.
    const row = (await (scope
      ? query.first(
          "*",
          this.db.raw(`case when ${this.claimableSql} then 1 else 0 end as claimable`, [
            scope.workerId,
          ]),
        )
      : query.first())) as (QueueRow & { claimable?: number | string }) | undefined;
    if (!row) return undefined;
    // Another worker is handling the room's next event (its claim is live): what comes after
    // it waits, so the room's order holds across a change of owner.
    if (scope && Number(row.claimable) !== 1) return undefined;
    return toQueued(row);
  }

  /** Rooms with queued events, in the order of their oldest one (where workers start). */
  async queuedRooms(scope?: IntakeScope): Promise<string[]> {
    const rows = await this.scoped(scope)
      .where({ state: "queued" })
      .groupBy("room_id")
      .select("room_id")
      .min({ first: "seq" })
      .orderBy("first");
    return rows.map((r) => String(r.room_id));
  }

  /**
   * Takes a queued event for this worker for `ttlMs` (the database's clock), unless another
   * worker holds it: answers whether it is this worker's to handle now. A claim that runs
   * out (its worker died) may be taken by another.
   */
  async claim(seq: number, workerId: string, ttlMs: number): Promise<boolean> {
    const n = await this.db<QueueRow>(QUEUE)
      .where({ seq, state: "queued" })
      .whereRaw(this.claimableSql, [workerId])
      .update({
        claimed_by: workerId,
        claimed_until: this.db.raw(`(${this.nowSql} + ?)`, [ttlMs]),
      });
    return n === 1;
  }

  /** Lets go of this worker's claim on a queued event (its work is another worker's now). */
  async unclaim(seq: number, workerId: string): Promise<void> {
    await this.db<QueueRow>(QUEUE)
      .where({ seq, state: "queued", claimed_by: workerId })
      .update({ claimed_by: null, claimed_until: null });
  }

  /**
   * A worker took the logins of `senders` over: the claims other workers hold on their
   * queued events are void (their holder lost the login), so their events go on at once in
   * their order instead of waiting for the claims to run out.
   */
  async releaseClaims(senders: readonly string[], workerId: string): Promise<number> {
    let n = 0;
    for (let i = 0; i < senders.length; i += 500) {
      n += await this.db<QueueRow>(QUEUE)
        .whereIn("sender", senders.slice(i, i + 500))
        .where({ state: "queued" })
        .whereNotNull("claimed_by")
        .whereNot("claimed_by", workerId)
        .update({ claimed_by: null, claimed_until: null });
    }
    return n;
  }

  async get(eventId: string): Promise<QueuedEvent | undefined> {
    const row = await this.db<QueueRow>(QUEUE).where({ event_id: eventId }).first();
    return row ? toQueued(row) : undefined;
  }

  /** Handled: the content is dropped, the id stays for dedupe. */
  async markDone(seq: number): Promise<void> {
    await this.update(seq, { state: "done", json: null, last_error: null });
  }

  /** Given up on (counts as an attempt); the content stays for inspection. */
  async markFailed(seq: number, error: string): Promise<void> {
    await this.update(seq, { state: "failed", last_error: errorText(error) }, true);
  }

  /** A failed attempt to be retried at `nextAttemptAt` (ms). */
  async reschedule(seq: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.update(seq, { next_attempt_at: nextAttemptAt, last_error: errorText(error) }, true);
  }

  /** Forgets txn ids received before `before` (ms); the homeserver retries long before. */
  async pruneTransactions(before: number): Promise<number> {
    return this.db<TxnRow>(TXNS).where("received_at", "<", before).delete();
  }

  /** Forgets handled events received before `before` (ms). Queued and failed ones stay. */
  async pruneDone(before: number): Promise<number> {
    return this.db<QueueRow>(QUEUE)
      .where({ state: "done" })
      .andWhere("received_at", "<", before)
      .delete();
  }

  /** The queue, narrowed to what the worker of `scope` takes (see IntakeScope). */
  private scoped(scope: IntakeScope | undefined): Knex.QueryBuilder<QueueRow, QueueRow[]> {
    const q = this.db<QueueRow>(QUEUE);
    if (!scope) return q;
    const { db, nowSql } = this;
    const loginOfSender = (sub: Knex.QueryBuilder): Knex.QueryBuilder =>
      sub
        .select(db.raw("1"))
        .from(`${LOGINS} as l`)
        .whereRaw(`l.mxid = ${QUEUE}.sender`)
        .whereNot("l.state", "logged-out");
    return q.where((w) =>
      w
        .whereExists(function () {
          loginOfSender(this)
            .join(`${LEASES} as b`, "b.login_id", "l.id")
            .where("b.worker_id", scope.workerId)
            .whereRaw(`b.expires_at > ${nowSql}`);
        })
        .orWhereNotExists(function () {
          loginOfSender(this);
        }),
    );
  }

  private async update(seq: number, change: Partial<QueueRow>, attempt = false): Promise<void> {
    const query = this.db<QueueRow>(QUEUE).where({ seq });
    const n = attempt
      ? await query.update({ ...change, attempts: this.db.raw("attempts + 1") })
      : await query.update(change);
    if (n === 0) throw new RepositoryError("not-found", `no queued event ${seq}`, "seq");
  }
}

function uniqueRows(
  events: readonly IntakeEvent[],
  now: number,
  settled?: (event: IntakeEvent) => boolean,
): QueueRow[] {
  const seen = new Set<string>();
  const rows: QueueRow[] = [];
  for (const e of events) {
    if (typeof e.event_id !== "string" || typeof e.room_id !== "string") {
      throw new RepositoryError("invalid", "an event without event_id or room_id", "event_id");
    }
    if (seen.has(e.event_id)) continue;
    seen.add(e.event_id);
    const done = settled?.(e) === true;
    rows.push({
      event_id: e.event_id,
      room_id: e.room_id,
      sender: typeof e.sender === "string" ? e.sender : null,
      json: done ? null : JSON.stringify(e),
      state: done ? "done" : "queued",
      attempts: 0,
      next_attempt_at: now,
      last_error: null,
      received_at: now,
    });
  }
  return rows;
}

function toQueued(row: QueueRow): QueuedEvent {
  return {
    seq: num(row.seq ?? 0),
    eventId: row.event_id,
    roomId: row.room_id,
    event: row.json === null ? null : parseEvent(row.json),
    state: row.state as QueuedEventState,
    attempts: num(row.attempts),
    nextAttemptAt: num(row.next_attempt_at),
    lastError: row.last_error,
    receivedAt: num(row.received_at),
  };
}

function parseEvent(json: string): IntakeEvent {
  const value: unknown = JSON.parse(json);
  if (
    typeof value !== "object" ||
    value === null ||
    !("event_id" in value) ||
    !("room_id" in value) ||
    typeof value.event_id !== "string" ||
    typeof value.room_id !== "string"
  ) {
    throw new RepositoryError("invalid", "stored event is not a Matrix event", "json");
  }
  return { ...value, event_id: value.event_id, room_id: value.room_id };
}
