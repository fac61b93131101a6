/**
 * One portal (a DM room) per (login, contact). The row exists before the room, so deciding
 * on a portal and creating its room can be retried without making a second portal. A chat
 * opened by a contact the user never wrote to is a message request until accepted.
 *
 * Contact names reach the rooms only cleaned (src/core/contact-name.ts): in the puppet's
 * display name, the topic, the bridge info and notices. A new chat whose contact is named like
 * one the user already has gets a room name and a warning that tell them apart.
 */
import type { Login, Portal, PortalState, Repositories } from "../db/repositories/index.js";
import { ContactNames } from "./contact-name.js";
import { encryptionNotice, portalTopic } from "./encryption-notice.js";
import { UserFacingError } from "./errors.js";
import { KeyedLock } from "./keyed-lock.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import { portalNotice } from "./portal-notice.js";
import type { RemoteNetwork } from "./network.js";
import { lowerPuppet } from "./puppet-power.js";
import type { ContactInfo, Puppets } from "./puppets.js";
import { addToUserSpace } from "./user-space.js";

export interface PortalsOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  /** Whether a chat opened by an unknown contact starts as a message request. */
  messageRequests: boolean;
  logger: CoreLogger;
}

/** A portal with its room, ready for messages. */
export interface OpenPortal {
  portal: Portal;
  roomId: string;
  puppetMxid: string;
}

export class Portals {
  private readonly lock = new KeyedLock();
  /** Portals whose user left the room: the next message invites them back. */
  private readonly userLeft = new Set<number>();
  private readonly names: ContactNames;

  constructor(private readonly o: PortalsOptions) {
    this.names = new ContactNames({
      repos: o.repos,
      matrix: o.matrix,
      puppets: o.puppets,
      networkName: o.network.capabilities.networkName,
      logger: o.logger,
    });
  }

  private get networkName(): string {
    return this.o.network.capabilities.networkName;
  }

  /**
   * For `start`: the chat with `contact`, created (active) or reopened (the user invited
   * again). Refuses a blocked contact; accepts a pending message request.
   */
  openForUser(login: Login, contact: ContactInfo): Promise<OpenPortal & { created: boolean }> {
    return this.lock.run(key(login.id, contact.id), async () => {
      const { portal } = await this.o.repos.portals.ensure(login.id, contact.id, "active");
      if (portal.state === "blocked") {
        throw new UserFacingError(
          "blocked",
          `You blocked this contact. Send \`unblock ${contact.phone ?? "<phone>"}\` first.`,
        );
      }
      if (portal.state === "request") await this.setState(portal, "active");
      const { puppetMxid, name } = await this.updatePuppet(contact);
      if (portal.roomId === null) {
        const roomId = await this.createRoom(login, portal, puppetMxid, name);
        return {
          portal: { ...portal, state: "active", roomId },
          roomId,
          puppetMxid,
          created: true,
        };
      }
      await this.invite(portal.roomId, puppetMxid, login.mxid);
      this.userLeft.delete(portal.id);
      return {
        portal: { ...portal, state: "active" },
        roomId: portal.roomId,
        puppetMxid,
        created: false,
      };
    });
  }

  /**
   * For a message from `contactId`: its portal with a room, created as a message request
   * when the contact is new. Undefined when the contact is blocked (the message is dropped).
   */
  forIncoming(
    login: Login,
    contactId: string,
    contactName?: string,
  ): Promise<OpenPortal | undefined> {
    return this.lock.run(key(login.id, contactId), async () => {
      const initial: PortalState = this.o.messageRequests ? "request" : "active";
      // Read first: an insert (that the portal exists makes a no-op) on every message costs.
      const portal =
        (await this.o.repos.portals.getByContact(login.id, contactId)) ??
        (await this.o.repos.portals.ensure(login.id, contactId, initial)).portal;
      if (portal.state === "blocked") return undefined;
      const updated = await this.updatePuppet({
        id: contactId,
        ...(contactName === undefined ? {} : { name: contactName }),
      });
      const { puppetMxid } = updated;
      if (portal.roomId === null) {
        const name = updated.name ?? (await this.o.puppets.nameOf(contactId));
        // The contact wrote first: someone the user may not know, named like someone they do.
        const lookalike =
          name !== undefined && (await this.names.lookalike(login.id, contactId, name));
        const roomId = await this.createRoom(login, portal, puppetMxid, name, lookalike);
        const warning =
          lookalike && name !== undefined
            ? this.names.lookalikeWarning(name, await this.o.puppets.phoneOf(contactId), puppetMxid)
            : undefined;
        if (portal.state === "request") {
          await portalNotice(this.o.matrix, roomId, this.requestNotice(warning), puppetMxid);
        } else if (warning !== undefined) {
          await portalNotice(this.o.matrix, roomId, warning, puppetMxid);
        }
        return { portal: { ...portal, roomId }, roomId, puppetMxid };
      }
      if (this.userLeft.has(portal.id)) {
        await this.invite(portal.roomId, puppetMxid, login.mxid);
        this.userLeft.delete(portal.id);
      }
      return { portal, roomId: portal.roomId, puppetMxid };
    });
  }

  /** Accepts a message request: the chat becomes a normal one. */
  async accept(portal: Portal): Promise<void> {
    if (portal.state === "request") await this.setState(portal, "active");
  }

  /** Blocks the contact on the network and marks the portal (made if there is none) blocked. */
  async block(login: Login, contact: ContactInfo): Promise<Portal> {
    await this.o.network.block(login.id, contact.id);
    // Remembers the contact's name, so `contacts` can show whom the user blocked.
    await this.updatePuppet(contact);
    return this.lock.run(key(login.id, contact.id), async () => {
      const { portal } = await this.o.repos.portals.ensure(login.id, contact.id, "blocked");
      if (portal.state !== "blocked") await this.setState(portal, "blocked");
      return { ...portal, state: "blocked" };
    });
  }

  /** Unblocks the contact; their portal (if any) becomes a normal chat. */
  async unblock(login: Login, contactId: string): Promise<Portal | undefined> {
    await this.o.network.unblock(login.id, contactId);
    return this.lock.run(key(login.id, contactId), async () => {
      const portal = await this.o.repos.portals.getByContact(login.id, contactId);
      if (portal && portal.state === "blocked") await this.setState(portal, "active");
      return portal && { ...portal, state: portal.state === "blocked" ? "active" : portal.state };
    });
  }

  /** The user's own membership in a portal changed. */
  async onUserMembership(roomId: string, mxid: string, membership: "join" | "leave" | "ban") {
    const portal = await this.o.repos.portals.getByRoom(roomId);
    if (!portal) return;
    const login = await this.o.repos.logins.get(portal.loginId);
    if (login?.mxid !== mxid) return;
    if (membership === "join") this.userLeft.delete(portal.id);
    else this.userLeft.add(portal.id);
  }

  /** Logging out: tell every portal room and leave it (best effort: the login goes anyway). */
  async closeAll(login: Login): Promise<number> {
    const portals = await this.o.repos.portals.listByLogin(login.id);
    let closed = 0;
    for (const portal of portals) {
      if (portal.roomId === null) continue;
      const puppetMxid = await this.o.puppets.mxidOf(portal.contactJid);
      if (!puppetMxid) continue;
      try {
        await portalNotice(
          this.o.matrix,
          portal.roomId,
          `You logged out of the ${this.networkName} bridge: this chat is no longer bridged.`,
          puppetMxid,
        );
        await this.o.matrix.leave(portal.roomId, puppetMxid);
        await this.o.matrix.leave(portal.roomId, this.o.matrix.botMxid);
        closed += 1;
      } catch (err) {
        this.o.logger.warn("could not close a portal room", {
          portal: portal.id,
          error: errorText(err),
        });
      }
    }
    return closed;
  }

  /**
   * The contact's puppet, its name updated (cleaned, rate-limited; the chats told of a
   * rename). `name`: the contact's cleaned name as the puppet shows it now.
   */
  private async updatePuppet(
    contact: ContactInfo,
  ): Promise<{ puppetMxid: string; name: string | undefined }> {
    const name = this.names.clean(contact.name);
    const update = await this.o.puppets.update({
      id: contact.id,
      ...(name === undefined ? {} : { name }),
      ...(contact.phone === undefined ? {} : { phone: contact.phone }),
    });
    await this.names.announce(contact.id, update);
    const shown = update.renameHeld ? update.renameHeld.current : name;
    return { puppetMxid: update.mxid, name: shown };
  }

  /**
   * `name`: the contact's cleaned name (else the one stored). `distinct`: the contact is named
   * like another of the user's, so the room gets a name of its own (with their number when
   * known), where a DM would otherwise be named after the puppet alone.
   */
  private async createRoom(
    login: Login,
    portal: Portal,
    puppetMxid: string,
    name: string | undefined,
    distinct = false,
  ): Promise<string> {
    const networkName = this.networkName;
    const contactName = name ?? (await this.o.puppets.nameOf(portal.contactJid));
    const phone = await this.o.puppets.phoneOf(portal.contactJid);
    const roomId = await this.o.matrix.createPortalRoom({
      puppetMxid,
      userMxid: login.mxid,
      ...(distinct && contactName !== undefined
        ? { name: this.names.distinctRoomName(contactName, phone) }
        : {}),
      // docs/protocol.md §16: partners must tell their users the bridge can read the messages.
      // The number (else the puppet's id) tells two contacts of one name apart.
      topic: portalTopic(networkName, contactName, phone ?? puppetMxid),
      bridgeInfo: {
        protocolId: networkName.toLowerCase(),
        protocolName: networkName,
        channelId: portal.contactJid,
        channelName: contactName ?? "",
      },
    });
    await this.o.repos.portals.setRoom(portal.id, roomId);
    await lowerPuppet(this.o, portal.id, roomId, puppetMxid);
    // Said first, and not only in the topic (which clients may not show).
    try {
      await portalNotice(this.o.matrix, roomId, encryptionNotice(networkName), puppetMxid);
    } catch (err) {
      this.o.logger.warn("could not post the encryption notice", { error: errorText(err) });
    }
    await this.addToSpace(login.mxid, roomId);
    this.o.logger.info("portal room created", { portal: portal.id, room: roomId });
    return roomId;
  }

  private async addToSpace(mxid: string, roomId: string): Promise<void> {
    await addToUserSpace(this.o, mxid, roomId);
  }

  private async invite(roomId: string, puppetMxid: string, userMxid: string): Promise<void> {
    try {
      await this.o.matrix.invite(roomId, puppetMxid, userMxid);
    } catch (err) {
      // Usually "already in the room"; a real problem shows when the user looks for the room.
      this.o.logger.debug("re-invite failed", { room: roomId, error: errorText(err) });
    }
  }

  private requestNotice(warning?: string): string {
    return (
      `Message request: someone you have not chatted with on ${this.networkName} wrote to you. ` +
      (warning === undefined ? "" : `${warning} `) +
      `They do not see that you read their messages until you accept. ` +
      `Send \`accept\` to chat with them, or \`block\` to block them.`
    );
  }

  private async setState(portal: Portal, state: PortalState): Promise<void> {
    await this.o.repos.portals.setState(portal.id, state);
  }
}

function key(loginId: string, contactId: string): string {
  return `${loginId}\n${contactId}`;
}
