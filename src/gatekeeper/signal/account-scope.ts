import type { Knex } from "knex";
import type { LocalIdentity } from "./account-record.js";
import type { SignalAddress } from "./address.js";
import { CachedRecords } from "./cached-records.js";
import type { PendingTransaction, RecordScope } from "./cached-records.js";
import { knownSession } from "./record-cache.js";
import type { PeerRecords, SignalRecordCache } from "./record-cache.js";
import { executorOn, holdConnection } from "./sql-executor.js";
import type { SqlExecutor } from "./sql-executor.js";
import { SqlRecords, StaleRecordError } from "./sql-records.js";
import type { RemoteIdentity, StoredSession } from "./sql-records.js";
import { StoreJournal } from "./store-journal.js";
import { isTransaction, rootTransaction } from "./transactions.js";

interface PeerLock {
  holder: object;
  waiting: { holder: object; grant: () => void }[];
}

/** A caller's transaction our operations joined: its pending records and the locks it holds. */
interface JoinedTransaction extends PendingTransaction {
  rolledBack: boolean;
  /** Our operations in one transaction run one after the other, as savepoints would. */
  tail: Promise<unknown>;
  readonly locked: Set<string>;
}

let scopeCount = 0;
/** Runs of one operation when its writes find the cache behind the database. */
const STALE_ATTEMPTS = 2;

/**
 * The Signal state of one account (owner and identity key) on one database, shared by every
 * SignalAccount object of it in the process: its cache entries, the per-peer locks and the
 * caller transactions its operations joined.
 *
 * Each operation on a peer holds that peer's lock from before its first read until its
 * writes are committed and in the cache (for a caller's transaction: until that transaction
 * ends), so a cache hit is what the database holds. The lock is taken after the connection,
 * as a transaction takes its row locks, so an operation holding it never waits for a
 * connection a lock waiter holds. The database itself is not locked: that one process
 * serves an account is the login's business (one process per account; later a lease). A
 * second writer all the same (another process, SQL around SignalAccount) is caught by the
 * check each session and identity write makes against the row as read (replaceSession):
 * the operation is run again on fresh reads, so no ratchet step is ever used twice.
 */
export class AccountScope implements RecordScope {
  private readonly prefix: string;
  private readonly locks = new Map<string, PeerLock>();
  private readonly joined = new WeakMap<Knex.Transaction, JoinedTransaction>();

  constructor(
    readonly owner: string,
    private readonly cache: SignalRecordCache,
  ) {
    this.prefix = `${++scopeCount}\u0000`;
  }

  /**
   * Runs `fn` on the records of peer `name`, in `trx` if given, and saves what it wrote. A
   * write that finds its row changed behind the cache (SQL around SignalAccount, a second
   * process) wrote nothing and dropped the cached rows: `fn` runs again, once, on what the
   * database holds.
   */
  async run<T>(
    db: Knex,
    trx: Knex.Transaction | undefined,
    name: string,
    clock: () => number,
    fn: (records: CachedRecords) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return trx
          ? await this.runIn(trx, name, clock, fn)
          : await this.runOwn(db, name, clock, fn);
      } catch (err) {
        if (!(err instanceof StaleRecordError) || attempt >= STALE_ATTEMPTS) throw err;
      }
    }
  }

  /** The session as committed (or as `trx` holds it), without taking the peer's lock. */
  async peekSession(dbOrTrx: Knex, address: SignalAddress): Promise<StoredSession | null> {
    const known = this.peek(dbOrTrx, address.name, (p) => knownSession(p, address.deviceId));
    return known !== undefined ? known : this.direct(dbOrTrx).session(address);
  }

  /** The identity row as committed (or as `trx` holds it), without taking the peer's lock. */
  async peekIdentity(dbOrTrx: Knex, name: string): Promise<RemoteIdentity | null> {
    const known = this.peek(dbOrTrx, name, (p) => p?.identity);
    return known !== undefined ? known : this.direct(dbOrTrx).identity(name);
  }

  // ---- RecordScope

  cached(name: string): PeerRecords | undefined {
    return this.cache.get(this.prefix + name);
  }

  commit(name: string, known: PeerRecords): void {
    this.cache.merge(this.prefix + name, known);
  }

  invalidate(name: string): void {
    this.cache.delete(this.prefix + name);
  }

  // ---- internals

  private async runOwn<T>(
    db: Knex,
    name: string,
    clock: () => number,
    fn: (records: CachedRecords) => Promise<T>,
  ): Promise<T> {
    const held = await holdConnection(db);
    try {
      const me = {};
      await this.lock(name, me);
      try {
        return await this.withRecords(held.exec, undefined, clock, fn);
      } finally {
        this.unlock(name);
      }
    } finally {
      await held.release();
    }
  }

  /** `fn` on fresh records over `exec`, whose changes are saved when it succeeds. */
  private async withRecords<T>(
    exec: SqlExecutor,
    joined: PendingTransaction | undefined,
    clock: () => number,
    fn: (records: CachedRecords) => Promise<T>,
  ): Promise<T> {
    const records = new CachedRecords(this, exec, joined, new StoreJournal(), clock);
    const result = await fn(records);
    await records.save();
    return result;
  }

  private async runIn<T>(
    trx: Knex.Transaction,
    name: string,
    clock: () => number,
    fn: (records: CachedRecords) => Promise<T>,
  ): Promise<T> {
    const joined = this.join(rootTransaction(trx));
    const run = async () => {
      if (!joined.locked.has(name)) {
        await this.lock(name, joined);
        joined.locked.add(name);
      }
      const held = await holdConnection(trx);
      try {
        return await this.withRecords(held.exec, joined, clock, fn);
      } finally {
        await held.release();
      }
    };
    const result = joined.tail.then(run);
    joined.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Follows a caller's transaction until it ends: committed, what it holds enters the cache;
   * otherwise (rolled back, failed, or a savepoint of it rolled back) the peers it wrote are
   * dropped from the cache. Then its peer locks are released.
   */
  private join(root: Knex.Transaction): JoinedTransaction {
    const existing = this.joined.get(root);
    if (existing) return existing;
    const joined: JoinedTransaction = {
      view: new Map(),
      written: new Set(),
      uncertain: false,
      rolledBack: false,
      tail: Promise.resolve(),
      locked: new Set(),
    };
    this.joined.set(root, joined);
    // knex settles a transaction rolled back without an error like a commit: watch for it.
    const watch = (query: { sql?: unknown }) => {
      const sql = typeof query.sql === "string" ? query.sql : "";
      if (/^rollback to /i.test(sql)) joined.uncertain = true;
      else if (/^rollback\b/i.test(sql)) joined.rolledBack = true;
    };
    root.on("query", watch);
    const end = (committed: boolean) => {
      root.off("query", watch);
      this.joined.delete(root);
      const keep = committed && !joined.rolledBack && !joined.uncertain;
      for (const [name, known] of joined.view) {
        if (keep) this.commit(name, known);
        else if (joined.written.has(name)) this.invalidate(name);
      }
      for (const name of joined.locked) this.unlock(name);
    };
    root.executionPromise.then(
      () => end(true),
      () => end(false),
    );
    return joined;
  }

  private peek<V>(
    dbOrTrx: Knex,
    name: string,
    pick: (p: PeerRecords | undefined) => V | undefined,
  ): V | undefined {
    const joined = isTransaction(dbOrTrx) ? this.joined.get(rootTransaction(dbOrTrx)) : undefined;
    if (joined?.uncertain) return undefined;
    const pending = joined ? pick(joined.view.get(name)) : undefined;
    return pending !== undefined ? pending : pick(this.cached(name));
  }

  /** Reads that bypass the cache (and, unlocked, must not fill it). */
  private direct(dbOrTrx: Knex): SqlRecords {
    return new SqlRecords(executorOn(dbOrTrx), this.owner, new StoreJournal(), Date.now);
  }

  /** Takes peer `name`'s lock for `holder`; a holder that has it already gets it at once. */
  private lock(name: string, holder: object): Promise<void> {
    const lock = this.locks.get(name);
    if (!lock) {
      this.locks.set(name, { holder, waiting: [] });
      return Promise.resolve();
    }
    if (lock.holder === holder) return Promise.resolve();
    return new Promise((grant) => lock.waiting.push({ holder, grant }));
  }

  private unlock(name: string): void {
    const lock = this.locks.get(name);
    if (!lock) return;
    const next = lock.waiting.shift();
    if (!next) {
      this.locks.delete(name);
      return;
    }
    lock.holder = next.holder;
    next.grant();
  }
}

const registry = new WeakMap<SignalRecordCache, WeakMap<Knex, Map<string, AccountScope>>>();

/**
 * The scope of the account `local` on `db` with `cache`. Keyed by the identity key too: an
 * account wiped and created again (logout, identity reset) starts with nothing cached.
 */
export function accountScope(
  db: Knex,
  local: LocalIdentity,
  cache: SignalRecordCache,
): AccountScope {
  let byDb = registry.get(cache);
  if (!byDb) registry.set(cache, (byDb = new WeakMap()));
  let byAccount = byDb.get(db);
  if (!byAccount) byDb.set(db, (byAccount = new Map()));
  const publicKey = Buffer.from(local.identityKeyPair.publicKey.serialize()).toString("hex");
  const key = `${local.owner}\u0000${publicKey}`;
  let scope = byAccount.get(key);
  if (!scope) byAccount.set(key, (scope = new AccountScope(local.owner, cache)));
  return scope;
}

/**
 * Forgets the scopes of `owner` on `db` (with `cache`): what was cached of the account may
 * no longer be what the database holds, because another process acts for it now (several
 * bridge processes hand accounts to each other). The account's next SignalAccount starts
 * from the database; the old entries age out of the cache unused.
 */
export function forgetAccountScopes(db: Knex, owner: string, cache: SignalRecordCache): void {
  const byAccount = registry.get(cache)?.get(db);
  if (!byAccount) return;
  for (const [key, scope] of [...byAccount]) {
    if (scope.owner === owner) byAccount.delete(key);
  }
}
