import { SenderKeyRecord, SenderKeyStore } from "@signalapp/libsignal-client";
import type { ProtocolAddress, Uuid } from "@signalapp/libsignal-client";
import { fromProtocolAddress } from "./address.js";
import type { SignalRecords } from "./sql-records.js";

/**
 * libsignal's SenderKeyStore (groups, §19.5) on the database: one record per (owner, sender
 * name, sender device, distribution id). libsignal's calls name no group, so a store serves
 * one group, and the keys it saves are kept as that group's: a key another group holds under
 * the same (sender, distribution id) is never overwritten (the write fails instead).
 */
export class DbSenderKeyStore extends SenderKeyStore {
  constructor(
    private readonly records: SignalRecords,
    readonly groupJid: string,
  ) {
    super();
  }

  get owner(): string {
    return this.records.owner;
  }

  async saveSenderKey(
    sender: ProtocolAddress,
    distributionId: Uuid,
    record: SenderKeyRecord,
  ): Promise<void> {
    const address = fromProtocolAddress(sender);
    await this.records.putSenderKey(address, distributionId, this.groupJid, record.serialize());
  }

  async getSenderKey(
    sender: ProtocolAddress,
    distributionId: Uuid,
  ): Promise<SenderKeyRecord | null> {
    const stored = await this.records.senderKey(fromProtocolAddress(sender), distributionId);
    // Another group's key is not this group's to use: as far as this group goes, none.
    if (!stored || stored.groupJid !== this.groupJid) return null;
    return SenderKeyRecord.deserialize(stored.record);
  }
}
