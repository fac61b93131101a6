import { PreKeyRecord, PreKeyStore } from "@signalapp/libsignal-client";
import type { SignalRecords } from "./sql-records.js";

/** libsignal's PreKeyStore (one-time EC prekeys) on the database. */
export class DbPreKeyStore extends PreKeyStore {
  constructor(private readonly records: SignalRecords) {
    super();
  }

  async savePreKey(_id: number, record: PreKeyRecord): Promise<void> {
    await this.savePreKeys([record]);
  }

  /** Saves many at once; an existing id (after the 24-bit counter wrapped) is replaced. */
  async savePreKeys(records: readonly PreKeyRecord[]): Promise<void> {
    await this.records.savePreKeys(records.map((r) => ({ id: r.id(), record: r.serialize() })));
  }

  async getPreKey(id: number): Promise<PreKeyRecord> {
    const record = await this.records.preKey(id);
    if (!record) throw this.records.journal.noteMissingKey(`prekey ${id}`);
    return PreKeyRecord.deserialize(record);
  }

  async removePreKey(id: number): Promise<void> {
    await this.records.removePreKey(id);
  }

  async count(): Promise<number> {
    return this.records.countPreKeys();
  }
}
