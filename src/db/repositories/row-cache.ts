import type { Knex } from "knex";

/**
 * In-memory copies of the rows that nearly every message reads and almost nothing writes:
 * portals, logins and users (by id, room, contact, mxid, management room). The load bench
 * showed these lookups as three to four statements per message.
 *
 * One cache per database (shared by every repository on it and on its transactions), and
 * coherent within this process:
 * - only reads outside a transaction fill it, and only if no write to these tables started
 *   or finished while the read ran (a generation counter);
 * - every write to these tables empties it before and after the write runs, and again
 *   when its transaction ends (commit or rollback), so a read never keeps a row that a transaction
 *   changed, nor one that a rolled-back transaction wrote.
 * Absent rows are cached too ("no portal has this room" is asked for every message in a
 * management room). Writes are rare (a new chat, an accept, a login), so emptying the whole
 * cache on each keeps it simple. Another process writing the same database is seen only
 * through `onWrite`: with several bridge processes on one database each write tells the
 * others (PostgreSQL NOTIFY, sent with the write's transaction), and each forgets its
 * copies when told (src/scale/cluster.ts).
 */
export class RowCache {
  private readonly rows = new Map<string, unknown>();
  private generation = 0;
  /**
   * Called after each write to the cached tables, on the write's `db` (its transaction, if
   * it is one): tells the other processes sharing the database to forget their copies.
   */
  onWrite: ((db: Knex) => Promise<void>) | undefined;

  constructor(private readonly capacity: number) {}

  /** The cached row (null: known to be absent), or undefined when not cached. */
  get<T>(key: string): T | null | undefined {
    const row = this.rows.get(key);
    if (row === undefined) return undefined;
    // Most recently used last, so the first key is the one to evict.
    this.rows.delete(key);
    this.rows.set(key, row);
    return row as T | null;
  }

  /** Reads through the cache; `read` runs only on a miss. `db` decides whether it may fill. */
  async through<T extends object>(
    db: Knex,
    key: string,
    read: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    if (db.isTransaction) return read();
    const cached = this.get<T>(key);
    if (cached !== undefined) return cached ?? undefined;
    const generation = this.generation;
    const row = await read();
    if (generation === this.generation) {
      if (this.rows.size >= this.capacity) this.rows.delete(this.rows.keys().next().value!);
      this.rows.set(key, row === undefined ? null : Object.freeze(row));
    }
    return row;
  }

  /**
   * Runs a write to the cached tables on `db`: the cache is emptied before and after it,
   * and again when `db`'s transaction (if it is one) ends.
   */
  async write<T>(db: Knex, run: () => Promise<T>): Promise<T> {
    this.forget();
    const done = (db as { executionPromise?: Promise<unknown> }).executionPromise;
    if (db.isTransaction && done) {
      const forget = (): void => this.forget();
      done.then(forget, forget);
    }
    try {
      const result = await run();
      await this.onWrite?.(db);
      return result;
    } finally {
      this.forget();
    }
  }

  get size(): number {
    return this.rows.size;
  }

  /** Forgets every row: after a change made around the repositories (tests, admin SQL). */
  forget(): void {
    this.generation++;
    this.rows.clear();
  }
}

/** Entries kept (a portal, a login or a user each, under one to three keys). */
const CAPACITY = 20_000;
/** Keyed by the knex config object, which a transaction shares with its root instance. */
const caches = new WeakMap<object, RowCache>();

/** The row cache of the database `db` (a root handle or one of its transactions). */
export function rowCacheOf(db: Knex): RowCache {
  const config = (db.client as { config: object }).config;
  let cache = caches.get(config);
  if (!cache) {
    cache = new RowCache(CAPACITY);
    caches.set(config, cache);
  }
  return cache;
}
