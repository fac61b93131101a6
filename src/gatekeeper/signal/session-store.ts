import { SessionRecord, SessionStore } from "@signalapp/libsignal-client";
import type { ProtocolAddress } from "@signalapp/libsignal-client";
import type { Knex } from "knex";
import { bytesFromDb, bytesToDb } from "./bytes.js";
import { SignalError } from "./errors.js";
import type { StoreJournal } from "./store-journal.js";

const TABLE = "signal_sessions";

/** libsignal's SessionStore on the database: one record per (owner, peer name, device). */
export class DbSessionStore extends SessionStore {
  constructor(
    private readonly db: Knex,
    readonly owner: string,
    private readonly journal: StoreJournal,
    private readonly clock: () => number,
  ) {
    super();
  }

  private key(address: ProtocolAddress) {
    return { owner: this.owner, name: address.name(), device_id: address.deviceId() };
  }

  async saveSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    const row = {
      ...this.key(address),
      record: bytesToDb(record.serialize()),
      updated_at: this.clock(),
    };
    await this.journal.guard(() =>
      this.db(TABLE)
        .insert(row)
        .onConflict(["owner", "name", "device_id"])
        .merge(["record", "updated_at"]),
    );
  }

  async getSession(address: ProtocolAddress): Promise<SessionRecord | null> {
    const row = (await this.journal.guard(() =>
      this.db(TABLE).where(this.key(address)).select("record").first(),
    )) as { record: unknown } | undefined;
    return row ? SessionRecord.deserialize(bytesFromDb(row.record)) : null;
  }

  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    const records: SessionRecord[] = [];
    for (const address of addresses) {
      const record = await this.getSession(address);
      if (!record) throw new SignalError("no-session", `no session with ${address.toString()}`);
      records.push(record);
    }
    return records;
  }

  async deleteSession(address: ProtocolAddress): Promise<boolean> {
    const deleted = await this.journal.guard(() =>
      this.db(TABLE).where(this.key(address)).delete(),
    );
    return deleted > 0;
  }

  /** Drops the sessions with every device of a peer (e.g. after its identity changed). */
  async deleteSessionsOf(name: string): Promise<number> {
    return this.journal.guard(() => this.db(TABLE).where({ owner: this.owner, name }).delete());
  }
}
