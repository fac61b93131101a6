/**
 * Remote → Matrix in groups. Every member login of this bridge receives every group message,
 * so a message is posted once: the message map's key (portal, sender, remote id) decides.
 * Handlers of the same message run one after another (a lock per message key), and the
 * Matrix txn key is the group's, not the login's: whichever login comes first posts, the
 * others find the message mapped and ack; a crash between posting and mapping gets the
 * same event back from the homeserver. A message whose sender is one of this bridge's logins
 * is the echo of a Matrix user's own message: it is mapped to that event, never posted.
 */
import type { Login, Repositories } from "../db/repositories/index.js";
import type { BridgeContent, RemoteMessage } from "./content.js";
import { mentionsToMatrix } from "./group-mentions.js";
import type { GroupPortals, OpenGroup } from "./group-portals.js";
import { KeyedLock } from "./keyed-lock.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { MediaRelay } from "./media-relay.js";
import { portalNotice } from "./portal-notice.js";
import type { IncomingRelations } from "./relations-in.js";
import { isOwnMessage, isRelationContent } from "./relations.js";

export interface GroupRelayInOptions {
  repos: Repositories;
  matrix: MatrixSide;
  groups: GroupPortals;
  relations: IncomingRelations;
  logger: CoreLogger;
  media?: MediaRelay;
}

export class GroupRelayIn {
  private readonly lock = new KeyedLock();

  constructor(private readonly o: GroupRelayInOptions) {}

  /** Posts `message` of group `message.group` (received by `login`) unless it is there already. */
  async deliver(login: Login, message: RemoteMessage & { group: string }): Promise<void> {
    if (!this.o.groups.supported) {
      this.o.logger.debug("group message dropped: groups are not bridged", { login: login.id });
      return;
    }
    const open = await this.o.groups.forIncoming(login, message.group);
    const portalId = open.portal.id;
    await this.lock.run(`${portalId}\n${message.sender}\n${message.id}`, async () => {
      const { repos } = this.o;
      if (await repos.messageMap.getByRemote(portalId, message.sender, message.id)) {
        this.o.logger.debug("group message already posted", { portal: portalId, id: message.id });
        return;
      }
      const own = await repos.logins.getByJid(message.sender);
      if (own) {
        await this.mapEcho(open, own, message);
        return;
      }
      await this.post(open, message);
    });
  }

  /** A group message that cannot be posted for good: a notice in the group's room says so. */
  async undeliverable(message: RemoteMessage & { group: string }, what: string, why: string) {
    const { repos } = this.o;
    const portal = await repos.groupPortals.getByGroup(message.group);
    if (!portal?.roomId) return;
    const key = txnKey(portal.id, message);
    const eventId = await portalNotice(
      this.o.matrix,
      portal.roomId,
      `A member sent ${what} that cannot be shown here: ${why}.`,
      undefined,
      `${key}:undeliverable`,
    );
    if (isOwnMessage(message.content)) {
      await repos.messageMap.add({
        portalId: portal.id,
        mxEventId: eventId,
        remoteId: message.id,
        remoteSender: message.sender,
        timestamp: message.timestamp,
      });
    }
  }

  private async post(open: OpenGroup, message: RemoteMessage): Promise<void> {
    const { repos, matrix } = this.o;
    const portalId = open.portal.id;
    const puppetMxid = await this.o.groups.puppetIn(open, message.sender, message.senderName);
    const key = txnKey(portalId, message);
    if (isRelationContent(message.content)) {
      const target = { portalId, roomId: open.roomId, puppetMxid };
      await this.o.relations.deliver(target, message, message.content, key);
      return;
    }
    const replied = await this.o.relations.groupReplyContent(portalId, message.content);
    const content = await mentionsToMatrix(this.o, open.roomId, replied);
    const send = (c: BridgeContent): Promise<string> =>
      matrix.sendMessage(open.roomId, puppetMxid, c, key, message.timestamp);
    const eventId = await (this.o.media ? this.o.media.post(content, send) : send(content));
    if (message.notShown !== undefined) {
      await portalNotice(matrix, open.roomId, message.notShown, puppetMxid, `${key}:not-shown`);
    }
    await repos.messageMap.add({
      portalId,
      mxEventId: eventId,
      remoteId: message.id,
      remoteSender: message.sender,
      timestamp: message.timestamp,
    });
  }

  /**
   * `own` sent it from Matrix, through the bridge: its outbox row names the Matrix event. The
   * row's ack usually mapped it already; this covers an echo that came first.
   */
  private async mapEcho(open: OpenGroup, own: Login, message: RemoteMessage): Promise<void> {
    if (!isOwnMessage(message.content)) return; // an edit or reaction of theirs: shown already
    const row = await this.o.repos.outbox.getByRemote(open.portal.id, message.id);
    if (!row || (row.loginId !== null && row.loginId !== own.id)) {
      this.o.logger.debug("echo of a message not sent through this bridge", {
        portal: open.portal.id,
        id: message.id,
      });
      return;
    }
    await this.o.repos.messageMap.add({
      portalId: open.portal.id,
      mxEventId: row.eventId,
      remoteId: message.id,
      remoteSender: message.sender,
      timestamp: message.timestamp,
    });
  }
}

/** The same for every login that receives the message, so a second post is the first event. */
function txnKey(portalId: number, message: RemoteMessage): string {
  return `group:${portalId}:${message.sender}:${message.id}`;
}
