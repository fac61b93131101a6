import { SignedPreKeyRecord, SignedPreKeyStore } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { bytesFromDb, bytesToDb } from "./bytes.js";
import type { StoreJournal } from "./store-journal.js";

const TABLE = "signal_signed_prekeys";

/**
 * libsignal's SignedPreKeyStore on the database. Old signed prekeys are kept after a
 * rotation: a message in flight may still name one.
 */
export class DbSignedPreKeyStore extends SignedPreKeyStore {
  constructor(
    private readonly db: Knex,
    readonly owner: string,
    private readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {
    super();
  }

  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    const row = {
      owner: this.owner,
      key_id: id,
      record: bytesToDb(record.serialize()),
      created_at: this.clock(),
    };
    await this.journal.guard(() =>
      this.db(TABLE).insert(row).onConflict(["owner", "key_id"]).merge(["record", "created_at"]),
    );
  }

  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const row = (await this.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, key_id: id }).select("record").first(),
    )) as { record: unknown } | undefined;
    if (!row) throw this.journal.noteMissingKey(`signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(bytesFromDb(row.record));
  }
}
