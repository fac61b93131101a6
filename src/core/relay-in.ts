/**
 * Remote → Matrix. The network acks a message only after onMessage resolved, so: recognise
 * a redelivery by the message map; post as the contact's puppet with a txn key stable per
 * message (a retry after a crash gets the first event back, not a second one); store the
 * mapping; then resolve. Failures to reach the homeserver are retried here a while, keeping
 * the contact's messages in order, before the message is left unacked for redelivery.
 */
import type { Login, Portal, Repositories } from "../db/repositories/index.js";
import { Sleeper, backoffDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import type { BridgeContent, RemoteMessage } from "./content.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { MediaRelay } from "./media-relay.js";
import type { Portals } from "./portals.js";
import type { GroupPortals } from "./group-portals.js";
import { GroupRelayIn } from "./group-relay-in.js";
import { isMediaContent, mediaNoun } from "./media.js";
import { portalNotice } from "./portal-notice.js";
import type { Puppets } from "./puppets.js";
import { IncomingRelations } from "./relations-in.js";
import { isOwnMessage, isRelationContent } from "./relations.js";
import { failureKindOf } from "./request-error.js";
import type { FailureKind, RequestFailedError } from "./request-error.js";

export interface RelayInOptions {
  repos: Repositories;
  matrix: MatrixSide;
  portals: Portals;
  logger: CoreLogger;
  /** Attempts per message before it is left for redelivery (default 8, about two minutes). */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Media limits, and a notice instead of media that cannot be had. */
  media?: MediaRelay;
  /** For notices that name the contact's puppet when the bot cannot post. */
  puppets?: Pick<Puppets, "mxidOf">;
  /** A notice in the user's management room (a message with no chat to show it in). */
  tellUser?: (mxid: string, text: string) => Promise<void>;
  /** Group portals (without them, group messages are dropped). */
  groups?: GroupPortals;
}

/** "a message", "an image", "a reaction": what arrived, for a notice. */
function contentNoun(content: BridgeContent): string {
  if (isMediaContent(content)) return mediaNoun(content);
  switch (content.kind) {
    case "edit":
      return "an edit of a message";
    case "reaction":
      return content.emoji === "" ? "a reaction removal" : "a reaction";
    case "delete":
      return "a deletion";
    default:
      return "a message";
  }
}

export class RelayStoppedError extends Error {
  readonly code = "stopped";
  constructor() {
    super("the bridge is stopping");
    this.name = "RelayStoppedError";
  }
}

export class RelayIn {
  private readonly sleeper = new Sleeper();
  private stopping = false;
  private readonly relations: IncomingRelations;
  private readonly groups: GroupRelayIn | undefined;

  constructor(private readonly o: RelayInOptions) {
    this.relations = new IncomingRelations(o);
    this.groups =
      o.groups &&
      new GroupRelayIn({
        repos: o.repos,
        matrix: o.matrix,
        groups: o.groups,
        relations: this.relations,
        logger: o.logger,
        ...(o.media ? { media: o.media } : {}),
      });
  }

  /**
   * Delivers one remote message to Matrix; resolves once it is there, or once the user was
   * told why it cannot be (the homeserver refuses it for good), or when deliberately dropped.
   */
  async handle(loginId: string, message: RemoteMessage): Promise<void> {
    const maxAttempts = Math.max(1, this.o.maxAttempts ?? 8);
    let lastKind: FailureKind | undefined;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) throw new RelayStoppedError();
      try {
        await this.deliver(loginId, message);
        this.o.logger.debug("remote message bridged", { login: loginId, id: message.id });
        return;
      } catch (err) {
        const kind = failureKindOf(err);
        // Refused for good (a 4xx other than 429, or a 500 twice over): trying again would
        // only hold up this contact's later messages. The user learns what came instead.
        if (kind === "permanent" || (kind === "server-error" && lastKind === "server-error")) {
          await this.undeliverable(loginId, message, err as RequestFailedError);
          return;
        }
        lastKind = kind;
        if (attempt >= maxAttempts || this.stopping) throw err;
        this.o.logger.warn("could not post a remote message, retrying", {
          login: loginId,
          id: message.id,
          attempt,
          error: errorText(err),
        });
        await this.sleeper.sleep(backoffDelay(attempt, this.o.backoff));
      }
    }
  }

  /**
   * A message the homeserver refuses for good: a notice in its chat (or, without one, in the
   * user's management room) says what arrived and why it is not shown; the message counts as
   * handled. A notice that cannot be posted either is logged, and the message let go: trying
   * it again on every connection would help nobody.
   */
  private async undeliverable(
    loginId: string,
    message: RemoteMessage,
    err: RequestFailedError,
  ): Promise<void> {
    const what = contentNoun(message.content);
    this.o.logger.warn("a remote message cannot be posted to Matrix", {
      login: loginId,
      id: message.id,
      error: err.code,
    });
    const { repos } = this.o;
    if (message.group !== undefined) {
      try {
        await this.groups?.undeliverable(
          { ...message, group: message.group },
          what,
          err.userMessage,
        );
      } catch (noticeErr) {
        this.o.logger.error("could not tell a group about a message that cannot be posted", {
          login: loginId,
          id: message.id,
          error: errorText(noticeErr),
        });
      }
      return;
    }
    const login = await repos.logins.get(loginId);
    const portal = await repos.portals.getByContact(loginId, message.sender);
    const txnKey = `${loginId}:${message.id}:undeliverable`;
    try {
      if (portal?.roomId) {
        const text = `This contact sent ${what} that cannot be shown here: ${err.userMessage}.`;
        const puppet = await this.o.puppets?.mxidOf(message.sender);
        const eventId = await portalNotice(this.o.matrix, portal.roomId, text, puppet, txnKey);
        if (isOwnMessage(message.content)) {
          await repos.messageMap.add({
            portalId: portal.id,
            mxEventId: eventId,
            remoteId: message.id,
            remoteSender: message.sender,
            timestamp: message.timestamp,
          });
        }
      } else if (login && this.o.tellUser) {
        await this.o.tellUser(
          login.mxid,
          `A contact you have no chat with yet sent ${what}, but the bridge could not open ` +
            `a chat for it: ${err.userMessage}.`,
        );
      }
    } catch (noticeErr) {
      this.o.logger.error("could not tell the user about a message that cannot be posted", {
        login: loginId,
        id: message.id,
        error: errorText(noticeErr),
      });
    }
  }

  /** Ends the retry waits: messages not yet posted stay unacked and come again. */
  stop(): void {
    this.stopping = true;
    this.sleeper.wakeAll();
  }

  private async deliver(loginId: string, message: RemoteMessage): Promise<void> {
    const { repos } = this.o;
    const login = await repos.logins.get(loginId);
    if (!login) {
      this.o.logger.debug("message for an unknown login dropped", { login: loginId });
      return;
    }
    if (message.group !== undefined) {
      if (this.groups) await this.groups.deliver(login, { ...message, group: message.group });
      else this.o.logger.debug("group message dropped: groups are off", { login: loginId });
      return;
    }
    const known = await repos.portals.getByContact(loginId, message.sender);
    if (known && (await repos.messageMap.getByRemote(known.id, message.sender, message.id))) {
      this.o.logger.debug("redelivered message skipped", { portal: known.id, id: message.id });
      return;
    }
    if (isRelationContent(message.content)) {
      // About an earlier message: without a chat there is nothing it could be about.
      const open =
        known && (await this.o.portals.forIncoming(login, message.sender, message.senderName));
      if (open) {
        const target = {
          portalId: open.portal.id,
          roomId: open.roomId,
          puppetMxid: open.puppetMxid,
          contactJid: open.portal.contactJid,
        };
        await this.relations.deliver(target, message, message.content, `${loginId}:${message.id}`);
      }
      return;
    }
    const target = await this.o.portals.forIncoming(login, message.sender, message.senderName);
    if (!target) {
      this.o.logger.debug("message from a blocked contact dropped", { login: loginId });
      return;
    }
    const content = await this.matrixContent(target.portal, login, message.content);
    const send = (c: BridgeContent): Promise<string> =>
      this.o.matrix.sendMessage(
        target.roomId,
        target.puppetMxid,
        c,
        `${loginId}:${message.id}`,
        message.timestamp,
      );
    const eventId = await (this.o.media ? this.o.media.post(content, send) : send(content));
    if (message.notShown !== undefined) {
      // Before the mapping: once mapped, a redelivery is skipped whole, and a crash in between
      // would lose the notice. Its own txn key makes a second attempt the same event.
      await portalNotice(
        this.o.matrix,
        target.roomId,
        message.notShown,
        target.puppetMxid,
        `${loginId}:${message.id}:not-shown`,
      );
    }
    await repos.messageMap.add({
      portalId: target.portal.id,
      mxEventId: eventId,
      remoteId: message.id,
      remoteSender: message.sender,
      timestamp: message.timestamp,
    });
  }

  /** A reply's target is a remote id; Matrix needs the event id (dropped when unknown). */
  private async matrixContent(
    portal: Portal,
    login: Login,
    content: BridgeContent,
  ): Promise<BridgeContent> {
    return this.relations.replyContent(portal, login, content);
  }
}
