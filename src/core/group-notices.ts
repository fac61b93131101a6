/**
 * What one-to-one chats say about a contact's security, said in the group rooms they share
 * with this bridge's users: a member's security code changed, or a member's group message
 * could not be decrypted. Every member login of this bridge may see the same thing (each has
 * its own session with the member), so a notice is posted once: an identity change once per
 * room and member within a while, an undecryptable message once by its key (the Matrix txn
 * key is the message's, as for the message itself), and not at all if another login could
 * decrypt and post it.
 */
import type { GroupPortal, Login, Repositories } from "../db/repositories/index.js";
import type { IdentityChangePolicy } from "./identity-guard.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork, UndecryptableReason } from "./network.js";
import { portalNotice } from "./portal-notice.js";
import type { Puppets } from "./puppets.js";
import { undecryptableText } from "./undecryptable.js";

/** Logins see a member's new key one after the other (as each next hears from them). */
const IDENTITY_NOTICE_WINDOW_MS = 10 * 60_000;

export interface GroupNoticesOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  policy: IdentityChangePolicy;
  commandPrefix: string;
}

export class GroupNotices {
  /** "portal\nmember" → when its identity change was told. */
  private readonly told = new Map<string, number>();

  constructor(private readonly o: GroupNoticesOptions) {}

  /** `contactId`'s identity key changed, as `login` saw it: told in the groups they share. */
  async onIdentityChange(login: Login, contactId: string, now = Date.now()): Promise<void> {
    const { repos, network } = this.o;
    if (!network.groupInfo) return;
    const portals = await repos.groupPortals.listByLogin(login.id);
    if (portals.length === 0) return;
    const name = (await this.o.puppets.nameOf(contactId)) ?? "A member";
    // Their number if known, else their Matrix user: the commands take either.
    const arg =
      (await this.o.puppets.phoneOf(contactId)) ?? (await this.o.puppets.mxidOf(contactId)) ?? "";
    for (const portal of portals) {
      if (portal.roomId === null || !(await this.shares(login, portal, contactId))) continue;
      const key = `${portal.id}\n${contactId}`;
      const last = this.told.get(key);
      if (last !== undefined && now - last < IDENTITY_NOTICE_WINDOW_MS) continue;
      this.told.set(key, now);
      const what =
        this.o.policy === "hold"
          ? `Until you confirm it with ${this.command(`confirm-identity ${arg}`)}, they ` +
            `cannot read what you send here.`
          : `That happens when they reinstall ${network.capabilities.networkName} or change ` +
            `phones; your messages keep reaching them.`;
      await this.notice(
        portal.roomId,
        contactId,
        `${name}'s security code changed. Compare the new safety number with them out of ` +
          `band: send ${this.command(`safety-number ${arg}`)}. ${what}`,
      );
    }
    this.forgetOld(now);
  }

  /** A group message `login` could not decrypt: told in the group's room, once. */
  async onUndecryptable(
    login: Login,
    groupId: string,
    senderId: string,
    messageId: string,
    reason: UndecryptableReason,
  ): Promise<void> {
    const { repos } = this.o;
    const portal = await repos.groupPortals.getByGroup(groupId);
    if (!portal?.roomId || !(await repos.groupPortals.isMember(portal.id, login.id))) return;
    // Another login of this bridge decrypted it: the room has the message.
    if (await repos.messageMap.getByRemote(portal.id, senderId, messageId)) return;
    const name = (await this.o.puppets.nameOf(senderId)) ?? "a member";
    await this.notice(
      portal.roomId,
      senderId,
      `A message from ${name} ${undecryptableText(reason)}`,
      `group:${portal.id}:${senderId}:${messageId}:undecryptable:${reason}`,
    );
  }

  /** Whether `contactId` is a member of the group (as `login` sees it). */
  private async shares(login: Login, portal: GroupPortal, contactId: string): Promise<boolean> {
    try {
      const info = await this.o.network.groupInfo!(login.id, portal.groupJid);
      return info.participants.some((p) => p.id === contactId);
    } catch (err) {
      this.o.logger.debug("group info not available", { error: errorText(err) });
      return false;
    }
  }

  private command(text: string): string {
    return `\`${this.o.commandPrefix} ${text}\``;
  }

  private async notice(roomId: string, memberId: string, text: string, txnKey?: string) {
    const puppet = await this.o.puppets.mxidOf(memberId);
    try {
      await portalNotice(this.o.matrix, roomId, text, puppet, txnKey);
    } catch (err) {
      this.o.logger.warn("could not post a notice in a group's room", { error: errorText(err) });
    }
  }

  private forgetOld(now: number): void {
    for (const [key, at] of this.told) {
      if (now - at >= IDENTITY_NOTICE_WINDOW_MS) this.told.delete(key);
    }
  }
}
