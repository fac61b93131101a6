import { SignedPreKeyRecord, SignedPreKeyStore } from "@signalapp/libsignal-client";
import type { SignalRecords } from "./sql-records.js";

/**
 * libsignal's SignedPreKeyStore on the database. Old signed prekeys are kept after a
 * rotation: a message in flight may still name one.
 */
export class DbSignedPreKeyStore extends SignedPreKeyStore {
  constructor(private readonly records: SignalRecords) {
    super();
  }

  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    await this.records.saveSignedPreKey({ id, record: record.serialize() });
  }

  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const record = await this.records.signedPreKey(id);
    if (!record) throw this.records.journal.noteMissingKey(`signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(record);
  }
}
