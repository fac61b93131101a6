import { SessionRecord, SessionStore } from "@signalapp/libsignal-client";
import type { ProtocolAddress } from "@signalapp/libsignal-client";
import { fromProtocolAddress } from "./address.js";
import { SignalError } from "./errors.js";
import type { SignalRecords } from "./sql-records.js";

/** libsignal's SessionStore on the database: one record per (owner, peer name, device). */
export class DbSessionStore extends SessionStore {
  constructor(private readonly records: SignalRecords) {
    super();
  }

  get owner(): string {
    return this.records.owner;
  }

  async saveSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    await this.records.putSession(fromProtocolAddress(address), record.serialize());
  }

  async getSession(address: ProtocolAddress): Promise<SessionRecord | null> {
    const stored = await this.records.session(fromProtocolAddress(address));
    return stored ? SessionRecord.deserialize(stored.record) : null;
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
    return this.records.deleteSession(fromProtocolAddress(address));
  }

  /** Drops the sessions with every device of a peer (e.g. after its identity changed). */
  async deleteSessionsOf(name: string): Promise<void> {
    await this.records.deleteSessionsOf(name);
  }
}
