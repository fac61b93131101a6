/**
 * Read receipts both ways, best effort (as receipts are on both networks).
 * Matrix → remote: the user's public read receipt in a portal becomes one receipt for every
 * message of the contact's up to that event that no receipt covered yet; none while the
 * chat is a message request (sent once accepted, with the next read) and none when the user
 * turned receipts off (`receipts off`): what they read meanwhile is never reported later.
 * Remote → Matrix: "delivered" becomes a send status naming the contact's puppet; "read" and
 * "played" move the puppet's read receipt to the newest message they cover (never back).
 */
import type { Knex } from "knex";
import type { Repositories } from "../db/repositories/index.js";
import { ReadReceiptRepository } from "../db/repositories/read-receipts.js";
import { KeyedLock } from "./keyed-lock.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork, RemoteReceipt } from "./network.js";
import type { Puppets } from "./puppets.js";

/** Ids per receipt: well inside GKI/1's 1024 children per element (docs §15). */
export const MAX_IDS_PER_RECEIPT = 500;

export interface ReadReceiptsOptions {
  db: Knex;
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  mayUse(mxid: string): boolean;
}

export class ReadReceipts {
  private readonly store: ReadReceiptRepository;
  private readonly lock = new KeyedLock();

  constructor(private readonly o: ReadReceiptsOptions) {
    this.store = new ReadReceiptRepository(o.db);
  }

  /** For the network's loginSettings: whether this login's user sends read receipts. */
  async enabledForLogin(loginId: string): Promise<boolean> {
    const login = await this.o.repos.logins.get(loginId);
    return login ? this.store.sendsReadReceipts(login.mxid) : true;
  }

  enabled(mxid: string): Promise<boolean> {
    return this.store.sendsReadReceipts(mxid);
  }

  /** The user's `receipts on|off`. */
  async setEnabled(mxid: string, on: boolean): Promise<void> {
    await this.store.setSendsReadReceipts(mxid, on);
    const login = await this.o.repos.logins.getByMxid(mxid);
    if (login) this.o.network.setReadReceipts?.(login.id, on);
  }

  /** Matrix → remote: `userMxid` read the room up to `eventId` (at `ts`). */
  async onMatrixReceipt(roomId: string, userMxid: string, eventId: string, ts: number) {
    if (!this.o.network.capabilities.features.readReceipts) return;
    const { repos } = this.o;
    const portal = await repos.portals.getByRoom(roomId);
    // A message request: the contact must not learn it was read until it is accepted.
    if (!portal || portal.state !== "active") return;
    const login = await repos.logins.get(portal.loginId);
    if (!login || login.mxid !== userMxid || !this.o.mayUse(userMxid)) return;
    const send = await this.store.sendsReadReceipts(userMxid);
    await this.lock.run(`read:${portal.id}`, async () => {
      for (;;) {
        const unread = await this.store.unreadFromContact(
          portal.id,
          portal.contactJid,
          eventId,
          ts,
          MAX_IDS_PER_RECEIPT,
        );
        if (!unread) return;
        if (send) {
          await this.o.network.sendReadReceipt(login.id, portal.contactJid, unread.remoteIds);
          this.o.logger.debug("read receipt sent", {
            portal: portal.id,
            messages: unread.remoteIds.length,
          });
        }
        // Also when off: read without a receipt stays unreported after `receipts on`.
        await this.store.markUserRead(portal.id, unread.upTo);
        if (unread.remoteIds.length < MAX_IDS_PER_RECEIPT) return;
      }
    });
  }

  /** Remote → Matrix: the contact got or read our messages. */
  async onRemoteReceipt(loginId: string, receipt: RemoteReceipt): Promise<void> {
    const portal = await this.o.repos.portals.getByContact(loginId, receipt.contactId);
    const roomId = portal?.roomId;
    if (!portal || !roomId) return;
    await this.lock.run(`seen:${portal.id}`, async () => {
      const own = await this.store.ownMessages(portal.id, receipt.messageIds);
      const newest = own[own.length - 1];
      const puppet = await this.o.puppets.mxidOf(portal.contactJid);
      if (!newest || !puppet) return;
      if (receipt.kind === "delivered") {
        for (const message of own) {
          await this.o.matrix.sendStatus(roomId, message.eventId, {
            status: "delivered",
            to: [puppet],
          });
        }
        return;
      }
      const known = await this.store.contactReadPosition(portal.id);
      if (known !== null && known >= newest.position) return; // an older receipt, late
      await this.o.matrix.sendReadReceipt(roomId, puppet, newest.eventId);
      await this.store.markContactRead(portal.id, newest.position);
    });
  }
}
