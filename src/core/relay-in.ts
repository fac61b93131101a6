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
import { IncomingRelations } from "./relations-in.js";
import { isRelationContent } from "./relations.js";

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

  constructor(private readonly o: RelayInOptions) {
    this.relations = new IncomingRelations(o);
  }

  /** Delivers one remote message to Matrix; resolves once it is there (or deliberately dropped). */
  async handle(loginId: string, message: RemoteMessage): Promise<void> {
    const maxAttempts = Math.max(1, this.o.maxAttempts ?? 8);
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) throw new RelayStoppedError();
      try {
        await this.deliver(loginId, message);
        return;
      } catch (err) {
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
    const known = await repos.portals.getByContact(loginId, message.sender);
    if (known && (await repos.messageMap.getByRemote(known.id, message.sender, message.id))) {
      this.o.logger.debug("redelivered message skipped", { portal: known.id, id: message.id });
      return;
    }
    if (isRelationContent(message.content)) {
      // About an earlier message: without a chat there is nothing it could be about.
      const open =
        known && (await this.o.portals.forIncoming(login, message.sender, message.senderName));
      if (open) await this.relations.deliver(open, login, message, message.content);
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
