import type { SignalAddress } from "./address.js";
import { bytesFromDb, bytesToDb, numberFromDb } from "./bytes.js";
import type { Bytes } from "./bytes.js";
import { StaleRecordError } from "./errors.js";

export { StaleRecordError } from "./errors.js";
import type { SqlExecutor, Row } from "./sql-executor.js";
import { SqlSenderKeys } from "./sql-sender-keys.js";
import type { StoredSenderKey } from "./sql-sender-keys.js";
import type { StoreJournal } from "./store-journal.js";

export type { StoredSenderKey } from "./sql-sender-keys.js";

/**
 * first-use: seen once, never changed. changed: replaced under trust-on-change, not yet
 * acknowledged. unconfirmed: a change waits for confirmIdentity() (nothing is trusted for
 * this peer meanwhile). confirmed: the user accepted the current key.
 */
export type TrustState = "first-use" | "changed" | "unconfirmed" | "confirmed";

/** What we know of a peer's identity key. Keys are serialized public keys. */
export interface RemoteIdentity {
  name: string;
  identityKey: Bytes;
  previousKey: Bytes | null;
  pendingKey: Bytes | null;
  trust: TrustState;
  firstSeenAt: number;
  changedAt: number | null;
}

export function copyIdentity(i: RemoteIdentity): RemoteIdentity {
  const copy = (b: Bytes | null) => (b === null ? null : new Uint8Array(b));
  return {
    ...i,
    identityKey: new Uint8Array(i.identityKey),
    previousKey: copy(i.previousKey),
    pendingKey: copy(i.pendingKey),
  };
}

/** A session row. `updatedAt` doubles as its version: every write moves it forward. */
export interface StoredSession {
  readonly record: Bytes;
  readonly updatedAt: number;
}

export interface StoredKyberPreKey {
  record: Bytes;
  lastResort: boolean;
}

export interface NewKey {
  id: number;
  record: Bytes;
}

/**
 * The rows the libsignal stores of one account (`owner`) read and write: what the stores
 * are built on, immediately on the database (SqlRecords) or through the record cache for
 * one operation (CachedRecords).
 */
export interface SignalRecords {
  readonly owner: string;
  readonly journal: StoreJournal;
  session(address: SignalAddress): Promise<StoredSession | null>;
  putSession(address: SignalAddress, record: Bytes): Promise<void>;
  /** True if there was one. */
  deleteSession(address: SignalAddress): Promise<boolean>;
  deleteSessionsOf(name: string): Promise<void>;
  identity(name: string): Promise<RemoteIdentity | null>;
  /** Inserts the row (`previous` null) or replaces the one that was read as `previous`. */
  putIdentity(next: RemoteIdentity, previous: RemoteIdentity | null): Promise<void>;
  preKey(id: number): Promise<Bytes | null>;
  savePreKeys(keys: readonly NewKey[]): Promise<void>;
  removePreKey(id: number): Promise<void>;
  countPreKeys(): Promise<number>;
  signedPreKey(id: number): Promise<Bytes | null>;
  saveSignedPreKey(key: NewKey): Promise<void>;
  kyberPreKey(id: number): Promise<StoredKyberPreKey | null>;
  saveKyberPreKey(key: NewKey, lastResort: boolean): Promise<void>;
  /** A one-time Kyber prekey is deleted; a last-resort one is stamped with the time. */
  markKyberPreKeyUsed(id: number): Promise<void>;
  senderKey(sender: SignalAddress, distributionId: string): Promise<StoredSenderKey | null>;
  /** Saves the sender key of `groupJid`; one stored for another group is not overwritten. */
  putSenderKey(
    sender: SignalAddress,
    distributionId: string,
    groupJid: string,
    record: Bytes,
  ): Promise<void>;
  /** True if there was one. */
  deleteSenderKey(sender: SignalAddress, distributionId: string): Promise<boolean>;
  /** Deletes every sender key of peer `name` (each device) distributed for `groupJid`. */
  deleteGroupSenderKeys(name: string, groupJid: string): Promise<void>;
}

const SESSION_KEY = "owner = ? and name = ? and device_id = ?";
const SQL = {
  session: `select record, updated_at from signal_sessions where ${SESSION_KEY}`,
  upsertSession:
    "insert into signal_sessions (owner, name, device_id, record, updated_at) values (?, ?, ?, ?, ?) " +
    "on conflict (owner, name, device_id) do update set record = excluded.record, updated_at = excluded.updated_at",
  insertSession:
    "insert into signal_sessions (owner, name, device_id, record, updated_at) values (?, ?, ?, ?, ?) " +
    "on conflict (owner, name, device_id) do nothing",
  updateSession: `update signal_sessions set record = ?, updated_at = ? where ${SESSION_KEY} and updated_at = ?`,
  deleteSession: `delete from signal_sessions where ${SESSION_KEY}`,
  deleteSessionsOf: "delete from signal_sessions where owner = ? and name = ?",
  identity:
    "select name, identity_key, previous_key, pending_key, trust, first_seen_at, changed_at " +
    "from signal_identities where owner = ? and name = ?",
  changedIdentities:
    "select name, identity_key, previous_key, pending_key, trust, first_seen_at, changed_at " +
    "from signal_identities where owner = ? and trust in ('changed', 'unconfirmed') order by name",
  insertIdentity:
    "insert into signal_identities (owner, name, identity_key, previous_key, pending_key, trust, " +
    "first_seen_at, changed_at) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (owner, name) do nothing",
  updateIdentity:
    "update signal_identities set identity_key = ?, previous_key = ?, pending_key = ?, trust = ?, " +
    "changed_at = ? where owner = ? and name = ? and identity_key = ?",
  preKey: "select record from signal_prekeys where owner = ? and key_id = ?",
  removePreKey: "delete from signal_prekeys where owner = ? and key_id = ?",
  countPreKeys: "select count(*) as n from signal_prekeys where owner = ?",
  signedPreKey: "select record from signal_signed_prekeys where owner = ? and key_id = ?",
  saveSignedPreKey:
    "insert into signal_signed_prekeys (owner, key_id, record, created_at) values (?, ?, ?, ?) " +
    "on conflict (owner, key_id) do update set record = excluded.record, created_at = excluded.created_at",
  kyberPreKey:
    "select record, last_resort from signal_kyber_prekeys where owner = ? and key_id = ?",
  saveKyberPreKey:
    "insert into signal_kyber_prekeys (owner, key_id, record, last_resort, created_at, last_used_at) " +
    "values (?, ?, ?, ?, ?, null) on conflict (owner, key_id) do update set record = excluded.record, " +
    "last_resort = excluded.last_resort, created_at = excluded.created_at, last_used_at = null",
  kyberUsed: "update signal_kyber_prekeys set last_used_at = ? where owner = ? and key_id = ?",
  removeKyberPreKey: "delete from signal_kyber_prekeys where owner = ? and key_id = ?",
} as const;

const PREKEYS_PER_INSERT = 100; // keeps bound parameters far below SQLite's limit

function rowToIdentity(row: Row): RemoteIdentity {
  const optional = (v: unknown) => (v === null || v === undefined ? null : bytesFromDb(v));
  return {
    name: String(row.name),
    identityKey: bytesFromDb(row.identity_key),
    previousKey: optional(row.previous_key),
    pendingKey: optional(row.pending_key),
    trust: row.trust as TrustState,
    firstSeenAt: numberFromDb(row.first_seen_at),
    changedAt: row.changed_at === null ? null : numberFromDb(row.changed_at),
  };
}

const isTrue = (v: unknown): boolean => v === true || v === 1;
const optionalToDb = (b: Bytes | null): Buffer | null => (b === null ? null : bytesToDb(b));

/** SignalRecords executed at once on the database. */
export class SqlRecords implements SignalRecords {
  readonly senderKeys: SqlSenderKeys;

  constructor(
    private readonly exec: SqlExecutor,
    readonly owner: string,
    readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {
    this.senderKeys = new SqlSenderKeys(exec, owner, journal, clock);
  }

  private first(sql: string, params: unknown[]): Promise<Row | undefined> {
    return this.journal.guard(async () => (await this.exec.all(sql, params))[0]);
  }

  private run(sql: string, params: unknown[]): Promise<number> {
    return this.journal.guard(() => this.exec.run(sql, params));
  }

  private sessionKey(a: SignalAddress): unknown[] {
    return [this.owner, a.name, a.deviceId];
  }

  async session(address: SignalAddress): Promise<StoredSession | null> {
    const row = await this.first(SQL.session, this.sessionKey(address));
    return row
      ? { record: bytesFromDb(row.record), updatedAt: numberFromDb(row.updated_at) }
      : null;
  }

  async putSession(address: SignalAddress, record: Bytes): Promise<void> {
    const [owner, name, deviceId] = this.sessionKey(address);
    await this.run(SQL.upsertSession, [owner, name, deviceId, bytesToDb(record), this.clock()]);
  }

  /**
   * Writes `next` only if the row is still as read (`previous`; null: absent): the check a
   * cached session needs to never overwrite a step another writer made meanwhile.
   */
  async replaceSession(
    address: SignalAddress,
    next: StoredSession,
    previous: StoredSession | null,
  ): Promise<void> {
    const record = bytesToDb(next.record);
    // Neither statement fails on a conflict (the caller's transaction stays usable): they
    // change no row.
    const changed = previous
      ? await this.run(SQL.updateSession, [
          record,
          next.updatedAt,
          ...this.sessionKey(address),
          previous.updatedAt,
        ])
      : await this.run(SQL.insertSession, [...this.sessionKey(address), record, next.updatedAt]);
    if (changed === 0) throw new StaleRecordError(`the session with ${address.name}`);
  }

  async deleteSession(address: SignalAddress): Promise<boolean> {
    return (await this.run(SQL.deleteSession, this.sessionKey(address))) > 0;
  }

  async deleteSessionsOf(name: string): Promise<void> {
    await this.run(SQL.deleteSessionsOf, [this.owner, name]);
  }

  async identity(name: string): Promise<RemoteIdentity | null> {
    const row = await this.first(SQL.identity, [this.owner, name]);
    return row ? rowToIdentity(row) : null;
  }

  async putIdentity(next: RemoteIdentity, previous: RemoteIdentity | null): Promise<void> {
    if (!(await this.replaceIdentity(next, previous))) {
      throw new StaleRecordError(`the identity of ${next.name}`);
    }
  }

  /** Like putIdentity; false if the row was no longer as read. */
  async replaceIdentity(next: RemoteIdentity, previous: RemoteIdentity | null): Promise<boolean> {
    const pending = optionalToDb(next.pendingKey);
    const changed = previous
      ? await this.run(SQL.updateIdentity, [
          bytesToDb(next.identityKey),
          optionalToDb(next.previousKey),
          pending,
          next.trust,
          next.changedAt,
          this.owner,
          next.name,
          bytesToDb(previous.identityKey),
        ])
      : await this.run(SQL.insertIdentity, [
          this.owner,
          next.name,
          bytesToDb(next.identityKey),
          optionalToDb(next.previousKey),
          pending,
          next.trust,
          next.firstSeenAt,
          next.changedAt,
        ]);
    return changed > 0;
  }

  /** Peers whose key changed and who were not confirmed since (the notices to show). */
  async changedIdentities(): Promise<RemoteIdentity[]> {
    const rows = await this.journal.guard(() => this.exec.all(SQL.changedIdentities, [this.owner]));
    return rows.map(rowToIdentity);
  }

  async preKey(id: number): Promise<Bytes | null> {
    const row = await this.first(SQL.preKey, [this.owner, id]);
    return row ? bytesFromDb(row.record) : null;
  }

  /** Saves many at once; an existing id (after the 24-bit counter wrapped) is replaced. */
  async savePreKeys(keys: readonly NewKey[]): Promise<void> {
    const now = this.clock();
    for (let i = 0; i < keys.length; i += PREKEYS_PER_INSERT) {
      const chunk = keys.slice(i, i + PREKEYS_PER_INSERT);
      const sql =
        "insert into signal_prekeys (owner, key_id, record, created_at) values " +
        chunk.map(() => "(?, ?, ?, ?)").join(", ") +
        " on conflict (owner, key_id) do update set record = excluded.record, created_at = excluded.created_at";
      const params = chunk.flatMap((k) => [this.owner, k.id, bytesToDb(k.record), now]);
      await this.journal.guard(() => this.exec.run(sql, params, { prepare: false }));
    }
  }

  async removePreKey(id: number): Promise<void> {
    await this.run(SQL.removePreKey, [this.owner, id]);
  }

  async countPreKeys(): Promise<number> {
    const row = await this.first(SQL.countPreKeys, [this.owner]);
    return Number(row?.n ?? 0);
  }

  async signedPreKey(id: number): Promise<Bytes | null> {
    const row = await this.first(SQL.signedPreKey, [this.owner, id]);
    return row ? bytesFromDb(row.record) : null;
  }

  async saveSignedPreKey(key: NewKey): Promise<void> {
    await this.run(SQL.saveSignedPreKey, [this.owner, key.id, bytesToDb(key.record), this.clock()]);
  }

  async kyberPreKey(id: number): Promise<StoredKyberPreKey | null> {
    const row = await this.first(SQL.kyberPreKey, [this.owner, id]);
    return row ? { record: bytesFromDb(row.record), lastResort: isTrue(row.last_resort) } : null;
  }

  async saveKyberPreKey(key: NewKey, lastResort: boolean): Promise<void> {
    const params = [this.owner, key.id, bytesToDb(key.record), lastResort, this.clock()];
    await this.run(SQL.saveKyberPreKey, params);
  }

  async markKyberPreKeyUsed(id: number): Promise<void> {
    const found = await this.kyberPreKey(id);
    if (found) await this.kyberPreKeyUsed(id, found.lastResort);
  }

  // ---- sender keys (sql-sender-keys.ts)

  senderKey(sender: SignalAddress, distributionId: string): Promise<StoredSenderKey | null> {
    return this.senderKeys.get(sender, distributionId);
  }
  putSenderKey(
    sender: SignalAddress,
    distributionId: string,
    groupJid: string,
    record: Bytes,
  ): Promise<void> {
    return this.senderKeys.put(sender, distributionId, groupJid, record);
  }
  deleteSenderKey(sender: SignalAddress, distributionId: string): Promise<boolean> {
    return this.senderKeys.delete(sender, distributionId);
  }
  deleteGroupSenderKeys(name: string, groupJid: string): Promise<void> {
    return this.senderKeys.deleteGroup(name, groupJid);
  }

  /** markKyberPreKeyUsed once it is known whether `id` is a last-resort key. */
  async kyberPreKeyUsed(id: number, lastResort: boolean): Promise<void> {
    if (lastResort) await this.run(SQL.kyberUsed, [this.clock(), this.owner, id]);
    else await this.run(SQL.removeKyberPreKey, [this.owner, id]);
  }
}
