import type { SignalAddress } from "./address.js";
import type { Bytes } from "./bytes.js";
import { emptyPeer, knownSession, mergePeer, senderKeySlot } from "./record-cache.js";
import type { PeerRecords } from "./record-cache.js";
import type { SqlExecutor } from "./sql-executor.js";
import { SqlRecords } from "./sql-records.js";
import type {
  NewKey,
  RemoteIdentity,
  SignalRecords,
  StoredKyberPreKey,
  StoredSenderKey,
  StoredSession,
} from "./sql-records.js";
import type { StoreJournal } from "./store-journal.js";
import { StaleRecordError } from "./errors.js";

/** Where the records of one account are cached; see AccountScope. */
export interface RecordScope {
  readonly owner: string;
  cached(name: string): PeerRecords | undefined;
  /** Adds committed knowledge of `name` to the cache. */
  commit(name: string, known: PeerRecords): void;
  invalidate(name: string): void;
}

/** What one caller's transaction wrote or read under its peer locks, not yet committed. */
export interface PendingTransaction {
  readonly view: Map<string, PeerRecords>;
  readonly written: Set<string>;
  /** Part of it was rolled back (a savepoint): `view` no longer says what it holds. */
  uncertain: boolean;
}

/** Adds `known` to `map`'s entry for `name`. */
export function mergeInto(map: Map<string, PeerRecords>, name: string, known: PeerRecords): void {
  let entry = map.get(name);
  if (!entry) map.set(name, (entry = emptyPeer()));
  mergePeer(entry, known);
}

let savepoints = 0;

/**
 * The records of one Signal operation on one peer, run under that peer's lock. Reads come
 * from what the operation wrote, then from what its caller's transaction holds, then from
 * the cache, and only then from the database. Writes are buffered and go to the database
 * in save(), all at once: one statement on its own, several in a transaction (or a savepoint
 * of the caller's). The cache learns them only once they are committed, so it never holds
 * what the database might not. Session and identity writes are checked against the row as
 * read (SqlRecords.replaceSession): if someone else wrote it meanwhile, nothing is written
 * and save() throws StaleRecordError (AccountScope then runs the operation again).
 */
export class CachedRecords implements SignalRecords {
  private readonly sql: SqlRecords;
  /** The peers this operation wrote, as they will be once saved. */
  private readonly view = new Map<string, PeerRecords>();
  private readonly writes: (() => Promise<unknown>)[] = [];

  constructor(
    private readonly scope: RecordScope,
    private readonly exec: SqlExecutor,
    private readonly trx: PendingTransaction | undefined,
    readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {
    this.sql = new SqlRecords(exec, scope.owner, journal, clock);
  }

  get owner(): string {
    return this.scope.owner;
  }

  /** Writes what the operation buffered; the cache (or the caller's transaction) learns it. */
  async save(): Promise<void> {
    const writes = this.writes.splice(0);
    try {
      if (writes.length === 1) await writes[0]!();
      else if (writes.length > 1) await this.atomically(writes);
    } catch (err) {
      // Rolled back, unknown, or the cache was behind the database: read these peers again.
      for (const name of this.view.keys()) {
        this.scope.invalidate(name);
        this.trx?.written.add(name);
      }
      if (this.trx) this.trx.uncertain = true;
      throw err;
    }
    for (const [name, known] of this.view) {
      if (this.trx) {
        mergeInto(this.trx.view, name, known);
        this.trx.written.add(name);
      } else {
        this.scope.commit(name, known);
      }
    }
  }

  // ---- sessions and identities: cached

  async session(address: SignalAddress): Promise<StoredSession | null> {
    const known = this.known(address.name, (p) => knownSession(p, address.deviceId));
    if (known !== undefined) return known;
    const stored = await this.sql.session(address);
    this.remember(address.name, (p) => p.sessions.set(address.deviceId, stored));
    return stored;
  }

  async putSession(address: SignalAddress, record: Bytes): Promise<void> {
    const previous = await this.session(address);
    // updated_at is the row's version for replaceSession: it must move on every write.
    const next = { record, updatedAt: Math.max(this.clock(), (previous?.updatedAt ?? 0) + 1) };
    this.write(
      address.name,
      (p) => p.sessions.set(address.deviceId, next),
      () => this.sql.replaceSession(address, next, previous),
    );
  }

  async deleteSession(address: SignalAddress): Promise<boolean> {
    if (!(await this.session(address))) return false;
    this.write(
      address.name,
      (p) => p.sessions.set(address.deviceId, null),
      () => this.sql.deleteSession(address),
    );
    return true;
  }

  async deleteSessionsOf(name: string): Promise<void> {
    const none = (p: PeerRecords) => {
      p.sessions = new Map();
      p.allSessions = true;
    };
    this.write(name, none, () => this.sql.deleteSessionsOf(name));
  }

  async identity(name: string): Promise<RemoteIdentity | null> {
    const known = this.known(name, (p) => p?.identity);
    if (known !== undefined) return known;
    const stored = await this.sql.identity(name);
    this.remember(name, (p) => (p.identity = stored));
    return stored;
  }

  async putIdentity(next: RemoteIdentity, previous: RemoteIdentity | null): Promise<void> {
    this.write(
      next.name,
      (p) => (p.identity = next),
      () => this.sql.putIdentity(next, previous),
    );
  }

  // ---- sender keys (groups): cached with the sender's other records

  async senderKey(sender: SignalAddress, distributionId: string): Promise<StoredSenderKey | null> {
    const slot = senderKeySlot(sender.deviceId, distributionId);
    const known = this.known(sender.name, (p) => p?.senderKeys.get(slot));
    if (known !== undefined) return known;
    const stored = await this.sql.senderKey(sender, distributionId);
    this.remember(sender.name, (p) => p.senderKeys.set(slot, stored));
    return stored;
  }

  async putSenderKey(
    sender: SignalAddress,
    distributionId: string,
    groupJid: string,
    record: Bytes,
  ): Promise<void> {
    const previous = await this.senderKey(sender, distributionId);
    // The row keeps its group: a key of another group makes the write stale, not moved.
    const next: StoredSenderKey = {
      record,
      groupJid: previous?.groupJid ?? groupJid,
      updatedAt: Math.max(this.clock(), (previous?.updatedAt ?? 0) + 1),
    };
    if (previous && previous.groupJid !== groupJid) {
      throw new StaleRecordError(`the sender key ${distributionId} of ${sender.name}`);
    }
    this.write(
      sender.name,
      (p) => p.senderKeys.set(senderKeySlot(sender.deviceId, distributionId), next),
      () => this.sql.senderKeys.replace(sender, distributionId, next, previous),
    );
  }

  async deleteSenderKey(sender: SignalAddress, distributionId: string): Promise<boolean> {
    if (!(await this.senderKey(sender, distributionId))) return false;
    this.write(
      sender.name,
      (p) => p.senderKeys.set(senderKeySlot(sender.deviceId, distributionId), null),
      () => this.sql.deleteSenderKey(sender, distributionId),
    );
    return true;
  }

  async deleteGroupSenderKeys(name: string, groupJid: string): Promise<void> {
    // Read under the peer lock: what the database holds is what the cache may know of.
    const keys = await this.sql.senderKeys.ofGroup(name, groupJid);
    if (keys.length === 0) return;
    const none = (p: PeerRecords) => {
      for (const k of keys) p.senderKeys.set(senderKeySlot(k.deviceId, k.distributionId), null);
    };
    this.write(name, none, () => this.sql.deleteGroupSenderKeys(name, groupJid));
  }

  // ---- prekeys: read when asked (only a pkmsg needs them), written with the rest

  preKey(id: number): Promise<Bytes | null> {
    return this.sql.preKey(id);
  }
  async savePreKeys(keys: readonly NewKey[]): Promise<void> {
    this.writes.push(() => this.sql.savePreKeys(keys));
  }
  async removePreKey(id: number): Promise<void> {
    this.writes.push(() => this.sql.removePreKey(id));
  }
  countPreKeys(): Promise<number> {
    return this.sql.countPreKeys();
  }
  signedPreKey(id: number): Promise<Bytes | null> {
    return this.sql.signedPreKey(id);
  }
  async saveSignedPreKey(key: NewKey): Promise<void> {
    this.writes.push(() => this.sql.saveSignedPreKey(key));
  }
  kyberPreKey(id: number): Promise<StoredKyberPreKey | null> {
    return this.sql.kyberPreKey(id);
  }
  async saveKyberPreKey(key: NewKey, lastResort: boolean): Promise<void> {
    this.writes.push(() => this.sql.saveKyberPreKey(key, lastResort));
  }
  async markKyberPreKeyUsed(id: number): Promise<void> {
    const found = await this.sql.kyberPreKey(id);
    if (found) this.writes.push(() => this.sql.kyberPreKeyUsed(id, found.lastResort));
  }

  // ---- internals

  /** What this operation wrote, else what its transaction holds, else the cache. */
  private known<V>(name: string, pick: (p: PeerRecords | undefined) => V | undefined) {
    const mine = pick(this.view.get(name));
    if (mine !== undefined || this.trx?.uncertain) return mine;
    const pending = this.trx ? pick(this.trx.view.get(name)) : undefined;
    return pending !== undefined ? pending : pick(this.scope.cached(name));
  }

  /**
   * Keeps what was read from the database. Read under the peer lock, which no writer of
   * this peer holds meanwhile: committed state (or the caller's transaction's own).
   */
  private remember(name: string, set: (p: PeerRecords) => void): void {
    const known = emptyPeer();
    set(known);
    if (!this.trx) this.scope.commit(name, known);
    else if (!this.trx.uncertain) mergeInto(this.trx.view, name, known);
  }

  private write(name: string, set: (p: PeerRecords) => void, statement: () => Promise<unknown>) {
    let entry = this.view.get(name);
    if (!entry) this.view.set(name, (entry = emptyPeer()));
    set(entry);
    this.writes.push(statement);
  }

  private async atomically(writes: (() => Promise<unknown>)[]): Promise<void> {
    const savepoint = `gkb_signal_${++savepoints}`;
    const [begin, end, undo] = this.trx
      ? [
          `savepoint ${savepoint}`,
          `release savepoint ${savepoint}`,
          `rollback to savepoint ${savepoint}`,
        ]
      : ["begin", "commit", "rollback"];
    const control = (sql: string) => this.exec.run(sql, [], { prepare: false });
    await control(begin);
    try {
      for (const write of writes) await write();
      await control(end);
    } catch (err) {
      await control(undo).catch(() => undefined);
      throw err;
    }
  }
}
