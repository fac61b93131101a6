import { PreKeyRecord, PreKeyStore } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { bytesFromDb, bytesToDb } from "./bytes.js";
import type { StoreJournal } from "./store-journal.js";

const TABLE = "signal_prekeys";
const INSERT_CHUNK = 100; // keeps bound parameters far below SQLite's limit

/** libsignal's PreKeyStore (one-time EC prekeys) on the database. */
export class DbPreKeyStore extends PreKeyStore {
  constructor(
    private readonly db: Knex,
    readonly owner: string,
    private readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {
    super();
  }

  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    await this.savePreKeys([record]);
  }

  /** Saves many at once; an existing id (after the 24-bit counter wrapped) is replaced. */
  async savePreKeys(records: readonly PreKeyRecord[]): Promise<void> {
    const now = this.clock();
    const rows = records.map((r) => ({
      owner: this.owner,
      key_id: r.id(),
      record: bytesToDb(r.serialize()),
      created_at: now,
    }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      await this.journal.guard(() =>
        this.db(TABLE)
          .insert(chunk)
          .onConflict(["owner", "key_id"])
          .merge(["record", "created_at"]),
      );
    }
  }

  async getPreKey(id: number): Promise<PreKeyRecord> {
    const row = (await this.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, key_id: id }).select("record").first(),
    )) as { record: unknown } | undefined;
    if (!row) throw this.journal.noteMissingKey(`prekey ${id}`);
    return PreKeyRecord.deserialize(bytesFromDb(row.record));
  }

  async removePreKey(id: number): Promise<void> {
    await this.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner, key_id: id }).delete(),
    );
  }

  async count(): Promise<number> {
    const row = (await this.journal.guard(() =>
      this.db(TABLE).where({ owner: this.owner }).count({ n: "*" }).first(),
    )) as { n: unknown } | undefined;
    return Number(row?.n ?? 0);
  }
}
