import type { Knex } from "knex";
import { NOW_MS_SQL, dialectOf } from "../../util/sql-dialect.js";
import { bytes, errorText, num, numOrNull } from "./columns.js";
import { isForeignKeyViolation, RepositoryError } from "./errors.js";

/**
 * The outbox (table bridge_outbox): Matrix → gatekeeper messages from the moment the
 * bridge took them on until the gatekeeper acked them or they failed for good. Each
 * entry's gatekeeper message id is chosen once, when it is enqueued, so every resend
 * carries the same id and the gatekeeper delivers it once. A portal's entries go out in
 * the order they were enqueued.
 */
export type OutboxState = "pending" | "sent" | "failed";

export interface OutboxEntry {
  id: number;
  portalId: number;
  /** The login it goes out through, in a group portal (null: the portal's own login). */
  loginId: string | null;
  /** The Matrix event this message came from. */
  eventId: string;
  /** The gatekeeper message id. */
  remoteId: string;
  /** What to send (the serialized message content). */
  payload: Uint8Array;
  state: OutboxState;
  attempts: number;
  /** Not to be sent before this time (ms). */
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
  /** The gatekeeper's timestamp from the ack (Unix seconds). */
  serverTs: number | null;
}

interface OutboxRow {
  id?: number | string;
  portal_id: number;
  login_id?: string | null;
  event_id: string;
  remote_id: string;
  payload: Buffer;
  state: string;
  attempts: number;
  next_attempt_at: number | string;
  last_error: string | null;
  created_at: number | string;
  sent_at: number | string | null;
  server_ts: number | string | null;
}

const TABLE = "bridge_outbox";

/**
 * Several processes on one database (docs/architecture.md, "Several processes"): a worker
 * sends only the entries of logins it holds the lease of. In a group portal the members'
 * logins may be held by different workers; each sends its own logins' entries in order.
 */
export interface OutboxScope {
  workerId: string;
}

export class OutboxRepository {
  /** `db` may be a transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Knex) {}

  /** Entries (pending ones, by default) whose login the scope's worker holds; all without a scope. */
  private scoped(scope: OutboxScope | undefined): Knex.QueryBuilder<OutboxRow, OutboxRow[]> {
    const q = this.db<OutboxRow>(TABLE);
    if (!scope) return q;
    const now = NOW_MS_SQL[dialectOf(this.db)];
    return q.whereExists(function () {
      this.select(this.client.raw("1"))
        .from("bridge_login_leases as b")
        .leftJoin("bridge_portals as p", "p.id", `${TABLE}.portal_id`)
        .whereRaw(`b.login_id = coalesce(${TABLE}.login_id, p.login_id)`)
        .where("b.worker_id", scope.workerId)
        .whereRaw(`b.expires_at > ${now}`);
    });
  }

  /**
   * Adds a message, due now. Idempotent on the event id: enqueueing the same event again
   * returns the entry stored the first time (with its remote id, not the new one).
   */
  async enqueue(
    input: {
      portalId: number;
      eventId: string;
      remoteId: string;
      payload: Uint8Array;
      loginId?: string;
    },
    now = Date.now(),
  ): Promise<{ entry: OutboxEntry; created: boolean }> {
    const row: OutboxRow = {
      portal_id: input.portalId,
      ...(input.loginId === undefined ? {} : { login_id: input.loginId }),
      event_id: input.eventId,
      remote_id: input.remoteId,
      payload: Buffer.from(input.payload),
      state: "pending",
      attempts: 0,
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      sent_at: null,
      server_ts: null,
    };
    let inserted: unknown[];
    try {
      inserted = await this.db<OutboxRow>(TABLE)
        .insert(row)
        .onConflict("event_id")
        .ignore()
        .returning("id");
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      throw new RepositoryError("not-found", `no portal ${input.portalId}`, "portalId", {
        cause: err,
      });
    }
    // Inserted: the row is what was written (no read back). Else the one there already.
    const id = idOf(inserted[0]);
    if (id !== undefined) return { entry: toEntry({ ...row, id }), created: true };
    const entry = await this.getByEvent(input.eventId);
    if (!entry) throw new Error(`outbox entry for ${input.eventId} vanished after insert`);
    return { entry, created: false };
  }

  async get(id: number): Promise<OutboxEntry | undefined> {
    const row = await this.db<OutboxRow>(TABLE).where({ id }).first();
    return row ? toEntry(row) : undefined;
  }

  async getByEvent(eventId: string): Promise<OutboxEntry | undefined> {
    const row = await this.db<OutboxRow>(TABLE).where({ event_id: eventId }).first();
    return row ? toEntry(row) : undefined;
  }

  /** The portal's entry with this remote message id (a group's echo names it). */
  async getByRemote(portalId: number, remoteId: string): Promise<OutboxEntry | undefined> {
    const row = await this.db<OutboxRow>(TABLE)
      .where({ portal_id: portalId, remote_id: remoteId })
      .first();
    return row ? toEntry(row) : undefined;
  }

  /**
   * The portal's oldest pending entry (of the scope's logins), due or not (it holds back the
   * ones after it).
   */
  async head(portalId: number, scope?: OutboxScope): Promise<OutboxEntry | undefined> {
    const row = await this.scoped(scope)
      .where({ portal_id: portalId, state: "pending" })
      .orderBy("id")
      .first();
    return row ? toEntry(row) : undefined;
  }

  /**
   * The entry to send next in this portal: its oldest pending one, if it is due by `now`.
   * Undefined when nothing is pending or the oldest waits for a retry (see head()).
   */
  async nextDue(portalId: number, now = Date.now()): Promise<OutboxEntry | undefined> {
    const entry = await this.head(portalId);
    return entry && entry.nextAttemptAt <= now ? entry : undefined;
  }

  /** Acked by the gatekeeper. */
  async markSent(id: number, serverTs: number | null, now = Date.now()): Promise<void> {
    await this.update(id, { state: "sent", sent_at: now, server_ts: serverTs, last_error: null });
  }

  /** Given up on (counts as an attempt). */
  async markFailed(id: number, error: string): Promise<void> {
    await this.update(id, { state: "failed", last_error: errorText(error) }, true);
  }

  /** A failed attempt, to be retried at `nextAttemptAt` (ms). */
  async reschedule(id: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.update(id, { next_attempt_at: nextAttemptAt, last_error: errorText(error) }, true);
  }

  /**
   * Portals with pending entries (of the scope's logins), oldest entry first (where the
   * workers start after a restart, or after taking logins over).
   */
  async pendingPortals(scope?: OutboxScope): Promise<number[]> {
    const rows = await this.scoped(scope)
      .where({ state: "pending" })
      .groupBy("portal_id")
      .select("portal_id")
      .min({ first: "id" })
      .orderBy("first");
    return rows.map((r) => num(r.portal_id));
  }

  /** Forgets sent entries sent before `before` (ms); pending and failed ones stay. */
  async pruneSent(before: number): Promise<number> {
    return this.db<OutboxRow>(TABLE)
      .where({ state: "sent" })
      .andWhere("sent_at", "<", before)
      .delete();
  }

  private async update(id: number, change: Partial<OutboxRow>, attempt = false): Promise<void> {
    const query = this.db<OutboxRow>(TABLE).where({ id });
    const n = attempt
      ? await query.update({ ...change, attempts: this.db.raw("attempts + 1") })
      : await query.update(change);
    if (n === 0) throw new RepositoryError("not-found", `no outbox entry ${id}`, "id");
  }
}

/** The id in a row of `returning("id")`: an object on PostgreSQL and SQLite alike. */
function idOf(returned: unknown): number | undefined {
  if (returned === undefined || returned === null) return undefined;
  const id = typeof returned === "object" ? (returned as { id?: unknown }).id : returned;
  return typeof id === "number" || typeof id === "string" ? num(id) : undefined;
}

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: num(row.id ?? 0),
    portalId: num(row.portal_id),
    loginId: row.login_id ?? null,
    eventId: row.event_id,
    remoteId: row.remote_id,
    payload: bytes(row.payload),
    state: row.state as OutboxState,
    attempts: num(row.attempts),
    nextAttemptAt: num(row.next_attempt_at),
    lastError: row.last_error,
    createdAt: num(row.created_at),
    sentAt: numOrNull(row.sent_at),
    serverTs: numOrNull(row.server_ts),
  };
}
