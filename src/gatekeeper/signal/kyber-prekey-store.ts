import { KyberPreKeyRecord, KyberPreKeyStore } from "@signalapp/libsignal-client";
import type { PublicKey } from "@signalapp/libsignal-client";
import type { SignalRecords } from "./sql-records.js";

/**
 * libsignal's KyberPreKeyStore on the database. A one-time Kyber prekey is deleted when
 * used; a "last resort" one (the signed key the server hands out when nothing else is
 * left) is kept and only stamped with when it was last used.
 */
export class DbKyberPreKeyStore extends KyberPreKeyStore {
  constructor(private readonly records: SignalRecords) {
    super();
  }

  async saveKyberPreKey(id: number, record: KyberPreKeyRecord, lastResort = false): Promise<void> {
    await this.records.saveKyberPreKey({ id, record: record.serialize() }, lastResort);
  }

  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const found = await this.records.kyberPreKey(id);
    if (!found) throw this.records.journal.noteMissingKey(`kyber prekey ${id}`);
    return KyberPreKeyRecord.deserialize(found.record);
  }

  async markKyberPreKeyUsed(
    id: number,
    _signedPreKeyId: number,
    _baseKey: PublicKey,
  ): Promise<void> {
    await this.records.markKyberPreKeyUsed(id);
  }

  async isLastResort(id: number): Promise<boolean | null> {
    return (await this.records.kyberPreKey(id))?.lastResort ?? null;
  }
}
