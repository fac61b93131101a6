/**
 * Read receipts in group rooms, per member, best effort (docs/protocol.md §19.6). Several
 * Matrix users share a group's room, so what was read is kept per (portal, login) one way and
 * per (portal, member) the other.
 * Matrix → remote: a member user's public read receipt makes their login send one receipt
 * per sender for the messages of others up to that event that no receipt of theirs covered
 * yet; none when they turned receipts off (and what they read then is never reported later).
 * Messages of this bridge's logins get none: they are Matrix users', who see the receipt in
 * Matrix.
 * Remote → Matrix: a member's "read" or "played" of a message a Matrix user sent moves the
 * member's puppet's read receipt to the newest message it covers, never back. A reader who is
 * a login of this bridge is a Matrix user whose own receipt is in the room already.
 * "delivered" is not shown in groups, as in mautrix-whatsapp (its handleDeliveryReceipt
 * returns for anything but a private chat): a send status per member and message would flood
 * the room, and each member's read receipt says more.
 */
import type { Knex } from "knex";
import type { Repositories } from "../db/repositories/index.js";
import { GroupReadReceiptRepository } from "../db/repositories/group-read-receipts.js";
import { KeyedLock } from "./keyed-lock.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork, RemoteReceipt } from "./network.js";
import type { Puppets } from "./puppets.js";
import { MAX_IDS_PER_RECEIPT } from "./read-receipts.js";

export interface GroupReceiptsOptions {
  db: Knex;
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  mayUse(mxid: string): boolean;
  /** The user's `receipts on|off` (the same setting as in one-to-one chats). */
  sendsReadReceipts(mxid: string): Promise<boolean>;
}

export class GroupReceipts {
  private readonly store: GroupReadReceiptRepository;
  private readonly lock = new KeyedLock();

  constructor(private readonly o: GroupReceiptsOptions) {
    this.store = new GroupReadReceiptRepository(o.db);
  }

  /** Matrix → remote: `userMxid` read the group's room up to `eventId` (at `ts`). */
  async onMatrixReceipt(roomId: string, userMxid: string, eventId: string, ts: number) {
    const { repos, network } = this.o;
    const send = network.sendGroupReadReceipt?.bind(network);
    if (!send || !network.capabilities.features.readReceipts) return;
    const group = await repos.groupPortals.getByRoom(roomId);
    if (!group || group.state !== "active") return;
    const login = await repos.logins.getByMxid(userMxid);
    if (!login?.jid || !this.o.mayUse(userMxid)) return;
    if (!(await repos.groupPortals.isMember(group.id, login.id))) return;
    const on = await this.o.sendsReadReceipts(userMxid);
    await this.lock.run(`read:${group.id}\n${login.id}`, async () => {
      for (;;) {
        const unread = await this.store.unread(
          group.id,
          login.id,
          eventId,
          ts,
          MAX_IDS_PER_RECEIPT,
        );
        if (!unread) return;
        if (on) {
          for (const [sender, ids] of unread.bySender) {
            await send(login.id, group.groupJid, sender, ids);
          }
          this.o.logger.debug("group read receipts sent", {
            portal: group.id,
            senders: unread.bySender.size,
            messages: unread.count,
          });
        }
        // Also when off: read without a receipt stays unreported after `receipts on`.
        await this.store.markLoginRead(group.id, login.id, unread.upTo);
        if (unread.count < MAX_IDS_PER_RECEIPT) return;
      }
    });
  }

  /** Remote → Matrix: the member `receipt.contactId` got or read messages `loginId` sent. */
  async onRemoteReceipt(loginId: string, groupId: string, receipt: RemoteReceipt): Promise<void> {
    if (receipt.kind === "delivered") return; // see above
    const { repos } = this.o;
    const reader = receipt.contactId;
    const group = await repos.groupPortals.getByGroup(groupId);
    const roomId = group?.roomId;
    if (!group || !roomId) return;
    if (await repos.logins.getByJid(reader)) return; // a Matrix user: their own receipt shows
    await this.lock.run(`seen:${group.id}\n${reader}`, async () => {
      const own = await this.store.ownMessages(group.id, loginId, receipt.messageIds);
      const newest = own[own.length - 1];
      const puppet = await this.o.puppets.mxidOf(reader);
      if (!newest || !puppet) return;
      const known = await this.store.memberReadPosition(group.id, reader);
      if (known !== null && known >= newest.position) return; // an older receipt, late
      await this.o.matrix.sendReadReceipt(roomId, puppet, newest.eventId);
      await this.store.markMemberRead(group.id, reader, newest.position);
    });
  }
}
