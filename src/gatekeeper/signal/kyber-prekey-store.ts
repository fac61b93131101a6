import { KyberPreKeyRecord, KyberPreKeyStore } from "@signalapp/libsignal-client";
import type { PublicKey } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { bytesFromDb, bytesToDb } from "./bytes.js";
import type { StoreJournal } from "./store-journal.js";

const TABLE = "signal_kyber_prekeys";

/**
 * libsignal's KyberPreKeyStore on the database. A one-time Kyber prekey is deleted when
 * used; a "last resort" one (the signed key the server hands out when nothing else is
 * left) is kept and only stamped with when it was last used.
 */
export class DbKyberPreKeyStore extends KyberPreKeyStore {
  constructor(
    private readonly db: Knex,
    readonly owner: string,
    private readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {
    super();
  }

  async saveKyberPreKey(id: number, record: KyberPreKeyRecord, lastResort = false): Promise<void> {
    const row = {
      owner: this.owner,
      key_id: id,
      record: bytesToDb(record.serialize()),
      last_resort: lastResort,
      created_at: this.clock(),
      last_used_at: null,
    };
    await this.journal.guard(() =>
      this.db(TABLE)
        .insert(row)
        .onConflict(["owner", "key_id"])
        .merge(["record", "last_resort", "created_at", "last_used_at"]),
    );
  }

  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const row = (await this.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, key_id: id }).select("record").first(),
    )) as { record: unknown } | undefined;
    if (!row) throw this.journal.noteMissingKey(`kyber prekey ${id}`);
    return KyberPreKeyRecord.deserialize(bytesFromDb(row.record));
  }

  async markKyberPreKeyUsed(
    id: number,
    _signedPreKeyId: number,
    _baseKey: PublicKey,
  ): Promise<void> {
    const where = { owner: this.owner, key_id: id };
    await this.journal.guard(async () => {
      const row = (await this.db(TABLE).where(where).select("last_resort").first()) as
        { last_resort: unknown } | undefined;
      if (!row) return;
      if (row.last_resort === true || row.last_resort === 1) {
        await this.db(TABLE).where(where).update({ last_used_at: this.clock() });
      } else {
        await this.db(TABLE).where(where).delete();
      }
    });
  }

  async isLastResort(id: number): Promise<boolean | null> {
    const row = (await this.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, key_id: id }).select("last_resort").first(),
    )) as { last_resort: unknown } | undefined;
    return row ? row.last_resort === true || row.last_resort === 1 : null;
  }
}
