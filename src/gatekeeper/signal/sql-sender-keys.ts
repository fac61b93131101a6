import type { SignalAddress } from "./address.js";
import { bytesFromDb, bytesToDb, numberFromDb } from "./bytes.js";
import type { Bytes } from "./bytes.js";
import { StaleRecordError } from "./errors.js";
import type { Row, SqlExecutor } from "./sql-executor.js";
import type { StoreJournal } from "./store-journal.js";

/**
 * A sender key (groups, §19.5): libsignal's SenderKeyRecord of one sender and distribution
 * id, with the group it was distributed for. `updatedAt` is its version, as a session's.
 */
export interface StoredSenderKey {
  readonly record: Bytes;
  readonly groupJid: string;
  readonly updatedAt: number;
}

const KEY = "owner = ? and name = ? and device_id = ? and distribution_id = ?";
const COLUMNS = "(owner, name, device_id, distribution_id, group_jid, record, updated_at)";
const SQL = {
  get: `select record, group_jid, updated_at from signal_sender_keys where ${KEY}`,
  // A key stored for another group is left alone (no row changes): see put().
  upsert:
    `insert into signal_sender_keys ${COLUMNS} values (?, ?, ?, ?, ?, ?, ?) ` +
    "on conflict (owner, name, device_id, distribution_id) do update set " +
    "record = excluded.record, updated_at = excluded.updated_at " +
    "where signal_sender_keys.group_jid = excluded.group_jid",
  insert:
    `insert into signal_sender_keys ${COLUMNS} values (?, ?, ?, ?, ?, ?, ?) ` +
    "on conflict (owner, name, device_id, distribution_id) do nothing",
  update:
    `update signal_sender_keys set record = ?, updated_at = ? where ${KEY} ` +
    "and group_jid = ? and updated_at = ?",
  delete: `delete from signal_sender_keys where ${KEY}`,
  ofGroup:
    "select device_id, distribution_id from signal_sender_keys " +
    "where owner = ? and name = ? and group_jid = ?",
  deleteGroup: "delete from signal_sender_keys where owner = ? and name = ? and group_jid = ?",
} as const;

/** The sender key rows of one account (`owner`), executed at once; part of SqlRecords. */
export class SqlSenderKeys {
  constructor(
    private readonly exec: SqlExecutor,
    readonly owner: string,
    private readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {}

  async get(sender: SignalAddress, distributionId: string): Promise<StoredSenderKey | null> {
    const rows = await this.all(SQL.get, this.key(sender, distributionId));
    const row = rows[0];
    return row
      ? {
          record: bytesFromDb(row.record),
          groupJid: String(row.group_jid),
          updatedAt: numberFromDb(row.updated_at),
        }
      : null;
  }

  /** Inserts or replaces; refuses (StaleRecordError) a key stored for another group. */
  async put(
    sender: SignalAddress,
    distributionId: string,
    groupJid: string,
    record: Bytes,
  ): Promise<void> {
    const params = [...this.key(sender, distributionId), groupJid, bytesToDb(record), this.clock()];
    if ((await this.run(SQL.upsert, params)) === 0) {
      throw new StaleRecordError(`the sender key ${distributionId} of ${sender.name}`);
    }
  }

  /**
   * Writes `next` only if the row is still as read (`previous`; null: absent), as
   * SqlRecords.replaceSession does for sessions. Neither statement fails on a conflict.
   */
  async replace(
    sender: SignalAddress,
    distributionId: string,
    next: StoredSenderKey,
    previous: StoredSenderKey | null,
  ): Promise<void> {
    const key = this.key(sender, distributionId);
    const record = bytesToDb(next.record);
    const changed = previous
      ? await this.run(SQL.update, [
          record,
          next.updatedAt,
          ...key,
          previous.groupJid,
          previous.updatedAt,
        ])
      : await this.run(SQL.insert, [...key, next.groupJid, record, next.updatedAt]);
    if (changed === 0) {
      throw new StaleRecordError(`the sender key ${distributionId} of ${sender.name}`);
    }
  }

  async delete(sender: SignalAddress, distributionId: string): Promise<boolean> {
    return (await this.run(SQL.delete, this.key(sender, distributionId))) > 0;
  }

  /** The (device id, distribution id) of each sender key of peer `name` for `groupJid`. */
  async ofGroup(
    name: string,
    groupJid: string,
  ): Promise<{ deviceId: number; distributionId: string }[]> {
    const rows = await this.all(SQL.ofGroup, [this.owner, name, groupJid]);
    return rows.map((r) => ({
      deviceId: numberFromDb(r.device_id),
      distributionId: String(r.distribution_id),
    }));
  }

  async deleteGroup(name: string, groupJid: string): Promise<void> {
    await this.run(SQL.deleteGroup, [this.owner, name, groupJid]);
  }

  private key(sender: SignalAddress, distributionId: string): unknown[] {
    return [this.owner, sender.name, sender.deviceId, distributionId];
  }

  private all(sql: string, params: unknown[]): Promise<Row[]> {
    return this.journal.guard(() => this.exec.all(sql, params));
  }

  private run(sql: string, params: unknown[]): Promise<number> {
    return this.journal.guard(() => this.exec.run(sql, params));
  }
}
