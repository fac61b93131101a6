/**
 * Matrix → remote. A message becomes an outbox row (its remote id chosen once, at insert;
 * idempotent on the event id) before anything is sent; a worker per portal sends the rows
 * in order, retrying transient failures with backoff; a final failure is told in the room
 * (a notice and a failed send status), never silence. Pending rows are resumed at start-up.
 */
import type { Knex } from "knex";
import { isGroupPortal, repositories } from "../db/repositories/index.js";
import type {
  GroupPortal,
  Login,
  OutboxEntry,
  Portal,
  Repositories,
} from "../db/repositories/index.js";
import { Sleeper, backoffDelay } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import type { BridgeContent, MatrixMessage } from "./content.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide, SendStatus } from "./matrix-side.js";
import { IDENTITY_UNCONFIRMED, RemoteError } from "./network.js";
import type { RemoteNetwork, SendResult } from "./network.js";
import { mentionsToRemote } from "./group-mentions.js";
import { decodeOutboxPayload, encodeOutboxPayload } from "./outbox-payload.js";
import { isMediaContent } from "./media.js";
import type { MediaRelay } from "./media-relay.js";
import { portalNotice } from "./portal-notice.js";
import type { Puppets } from "./puppets.js";
import type { HeldPortals } from "./identity-guard.js";
import type { LoginOwnership } from "./ownership.js";
import { OutgoingRelations } from "./relations-out.js";
import type { OutgoingChat } from "./relations-out.js";
import { isOwnMessage, isRelationContent } from "./relations.js";

export interface RelayOutOptions {
  db: Knex;
  repos: Repositories;
  network: RemoteNetwork;
  matrix: MatrixSide;
  puppets: Puppets;
  logger: CoreLogger;
  /** Sends of one message before it is reported as failed. */
  maxAttempts: number;
  /** Between attempts: 1 s doubling to 60 s unless set. */
  backoff?: BackoffOptions;
  /** How long stop() waits for sends in flight (default 5 s). */
  stopGraceMs?: number;
  /** Media limits and Matrix downloads (without it, media is refused). */
  media?: MediaRelay;
  /** Portals whose sends wait for the user to confirm a contact's new identity. */
  held?: HeldPortals;
  /** Several processes: send only the rows of the logins this one holds. */
  ownership?: LoginOwnership;
  now?: () => number;
}

export class RelayOut {
  private readonly workers = new Map<number, Promise<void>>();
  /** Portals that got new rows while their worker was running. */
  private readonly dirty = new Set<number>();
  /** Portals whose worker must stop (their login is logging out). */
  private readonly halted = new Set<number>();
  private readonly sleeper = new Sleeper();
  private readonly now: () => number;
  private stopping = false;

  private readonly relations: OutgoingRelations;

  constructor(private readonly o: RelayOutOptions) {
    this.now = o.now ?? Date.now;
    this.relations = new OutgoingRelations(o);
  }

  /**
   * Takes on a message the user wrote in `portal`: once this resolves it is in the outbox
   * (or refused with a notice), and the Matrix event can count as handled.
   */
  async enqueue(portal: Portal, message: MatrixMessage): Promise<void> {
    await this.take(portal, portal, message);
  }

  /**
   * As enqueue, for a message `login`'s user wrote in a group portal: it goes out through
   * that login, in the group's one order.
   */
  async enqueueGroup(portal: GroupPortal, login: Login, message: MatrixMessage): Promise<void> {
    const chat = { id: portal.id, roomId: portal.roomId, loginId: login.id };
    // Pills become the members' mentions before the row is written (a resend needs nothing else).
    const content = await mentionsToRemote(this.o, portal, login, message.content);
    await this.take(portal, chat, { ...message, content }, login.id);
  }

  private async take(
    portal: Portal | GroupPortal,
    chat: OutgoingChat,
    message: MatrixMessage,
    loginId?: string,
  ): Promise<void> {
    const refusal = this.refusal(message.content, isGroupPortal(portal));
    if (refusal !== undefined) {
      await this.tellFailure(portal, message.eventId, refusal);
      return;
    }
    // Reply, edit, deletion and reaction targets become remote ids (see relations-out.ts).
    const prepared = await this.relations.prepare(chat, message);
    if (prepared.kind === "skip") return;
    if (prepared.kind === "refuse") {
      const notice = prepared.silent ? null : prepared.notice;
      await this.tellFailure(portal, message.eventId, prepared.reason, notice);
      return;
    }
    const { entry, created } = await this.o.repos.outbox.enqueue({
      portalId: portal.id,
      eventId: message.eventId,
      remoteId: this.o.network.newMessageId(),
      payload: encodeOutboxPayload(prepared.content),
      ...(loginId === undefined ? {} : { loginId }),
    });
    await prepared.afterQueued?.();
    if (created) this.o.logger.debug("message queued", { portal: portal.id, outbox: entry.id });
    this.kick(portal.id);
  }

  /**
   * Starts workers for every portal with pending rows (after a restart; with several
   * processes, also after taking logins over: of the logins this one holds).
   */
  async resume(): Promise<number> {
    const portals = await this.o.repos.outbox.pendingPortals(this.o.ownership);
    for (const portalId of portals) this.kick(portalId);
    return portals.length;
  }

  /** Sends a portal's pending messages now (e.g. released after a hold). */
  wake(portalId: number): void {
    this.kick(portalId);
  }

  /** Stops the workers of these portals (before their login is deleted). */
  async halt(portalIds: number[]): Promise<void> {
    for (const id of portalIds) this.halted.add(id);
    this.sleeper.wakeAll();
    // They stay halted: the portals are about to be deleted.
    await Promise.all(portalIds.map((id) => this.workers.get(id)));
  }

  /** Takes no new sends and waits (a while) for the ones in flight. Pending rows stay for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wakeAll();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.o.stopGraceMs ?? 5_000);
    });
    await Promise.race([Promise.all([...this.workers.values()]), grace]);
    clearTimeout(timer);
  }

  private kick(portalId: number): void {
    if (this.stopping || this.halted.has(portalId) || this.o.held?.isHeld(portalId)) return;
    if (this.workers.has(portalId)) {
      this.dirty.add(portalId);
      return;
    }
    const worker = this.run(portalId)
      .catch((err: unknown) => {
        this.o.logger.error("outbox worker failed", { portal: portalId, error: errorText(err) });
      })
      .finally(() => {
        this.workers.delete(portalId);
        // Rows that came while it was ending, or a database hiccup: try again later.
        if (this.dirty.delete(portalId)) this.kick(portalId);
      });
    this.workers.set(portalId, worker);
  }

  private async run(portalId: number): Promise<void> {
    const active = (): boolean =>
      !this.stopping && !this.halted.has(portalId) && !this.o.held?.isHeld(portalId);
    while (active()) {
      this.dirty.delete(portalId);
      const head = await this.o.repos.outbox.head(portalId, this.o.ownership);
      if (!head) {
        if (this.dirty.has(portalId)) continue;
        return;
      }
      const wait = head.nextAttemptAt - this.now();
      if (wait > 0) {
        await this.sleeper.sleep(wait);
        continue;
      }
      // The login moved to another worker (or this one was paused past its lease): the rows
      // wait for their new owner, which resumes them.
      if ((await this.attempt(head, active)) === "not-mine") return;
    }
  }

  private async attempt(
    entry: OutboxEntry,
    active: () => boolean,
  ): Promise<"not-mine" | undefined> {
    const { repos, ownership } = this.o;
    const direct = await repos.portals.get(entry.portalId);
    const portal = direct ?? (await repos.groupPortals.get(entry.portalId));
    if (!portal) return; // deleted with its login: the row went too
    const loginId = direct ? direct.loginId : entry.loginId;
    if (ownership && loginId !== null && !ownership.owns(loginId)) return "not-mine";
    const login = loginId === null ? undefined : await repos.logins.get(loginId);
    if (!login) {
      if (direct) return; // deleted with its login: the row went too
      // A group's row outlives its sender's login (logged out meanwhile).
      await repos.outbox.markFailed(entry.id, "the sender's login is gone");
      await this.tellFailure(portal, entry.eventId, "you are no longer logged in to the bridge");
      return;
    }
    let content: BridgeContent;
    try {
      content = decodeOutboxPayload(entry.payload);
      if (isMediaContent(content) && this.o.media) content = this.o.media.bindOutgoing(content);
    } catch (err) {
      await repos.outbox.markFailed(entry.id, errorText(err));
      await this.tellFailure(portal, entry.eventId, "the bridge could not read it back (a bug)");
      return;
    }
    try {
      const result = await this.send(portal, login, entry, content);
      await this.o.db.transaction(async (trx) => {
        const r = repositories(trx);
        await r.outbox.markSent(entry.id, Math.floor(result.timestamp / 1000));
        // Edits, deletions and reactions change a message; they are none of their own.
        if (isOwnMessage(content))
          await r.messageMap.add({
            portalId: portal.id,
            mxEventId: entry.eventId,
            remoteId: entry.remoteId,
            remoteSender: login.jid ?? "",
            timestamp: result.timestamp,
          });
      });
      await this.status(portal, entry.eventId, { status: "sent" });
    } catch (err) {
      await this.failedAttempt(portal, login, entry, err, active);
    }
  }

  /** One to one to the contact; in a group to every member, through the sender's login. */
  private send(
    portal: Portal | GroupPortal,
    login: Login,
    entry: OutboxEntry,
    content: BridgeContent,
  ): Promise<SendResult> {
    const { network } = this.o;
    if (!isGroupPortal(portal)) {
      return network.sendMessage(login.id, portal.contactJid, entry.remoteId, content);
    }
    if (!network.sendGroupMessage) {
      const name = network.capabilities.networkName;
      throw new RemoteError("unsupported", `${name} groups are not bridged`, true);
    }
    return network.sendGroupMessage(login.id, portal.groupJid, entry.remoteId, content);
  }

  private async failedAttempt(
    portal: Portal | GroupPortal,
    login: Login,
    entry: OutboxEntry,
    err: unknown,
    active: () => boolean,
  ): Promise<void> {
    // The login moved to another process while this send was under way (several processes):
    // not the message's fault. Its new holder sends it, under the same id, so it goes once.
    if (this.o.ownership && !this.o.ownership.owns(login.id)) return;
    const holdable = this.o.held && !isGroupPortal(portal);
    if (holdable && err instanceof RemoteError && err.code === IDENTITY_UNCONFIRMED) {
      // Not an attempt and not a failure: the message waits for the user's confirmation.
      await this.o.held!.hold(portal as Portal, entry.eventId);
      return;
    }
    const permanent = err instanceof RemoteError && err.permanent;
    // Stopping cut the send short: not the message's fault, so not an attempt.
    if (!permanent && !active()) return;
    const reason =
      err instanceof RemoteError ? err.userMessage : "an unexpected error in the bridge";
    const attempts = entry.attempts + 1;
    this.o.logger.warn("send failed", {
      login: login.id,
      outbox: entry.id,
      attempts,
      permanent,
      error: errorText(err),
    });
    if (permanent || attempts >= this.o.maxAttempts) {
      await this.o.repos.outbox.markFailed(entry.id, errorText(err));
      const why = permanent ? reason : `${reason} (gave up after ${attempts} attempts)`;
      await this.tellFailure(portal, entry.eventId, why);
      return;
    }
    const delay = backoffDelay(attempts, this.o.backoff);
    await this.o.repos.outbox.reschedule(entry.id, this.now() + delay, errorText(err));
    if (attempts === 1) await this.status(portal, entry.eventId, { status: "retrying", reason });
  }

  /** What the network cannot take at all (answered at once, without an outbox row). */
  private refusal(content: BridgeContent, group: boolean): string | undefined {
    const caps = this.o.network.capabilities;
    if (group && isMediaContent(content) && !caps.groups?.media) {
      return `media cannot be sent to ${caps.networkName} groups through this bridge yet`;
    }
    if (content.kind === "unsupported") {
      return `${content.description} cannot be sent to ${caps.networkName} (not supported by the bridge yet)`;
    }
    if (isMediaContent(content)) {
      return this.o.media
        ? this.o.media.refusal(content)
        : `media cannot be sent to ${caps.networkName} through this bridge`;
    }
    if (isRelationContent(content)) return undefined; // relations-out.ts decides
    if (content.text.length > caps.maxTextLength) {
      return `it is longer than ${caps.networkName} allows (${caps.maxTextLength} characters)`;
    }
    return undefined;
  }

  /**
   * Tells the room (notice + failed send status) that the message was not delivered;
   * `notice` replaces the notice's usual text, null sends the status alone.
   */
  async tellFailure(
    portal: Portal | GroupPortal,
    eventId: string,
    reason: string,
    notice: string | null = `Your message was not delivered: ${reason}.`,
  ): Promise<void> {
    await this.status(portal, eventId, { status: "failed", reason });
    if (portal.roomId === null || notice === null) return;
    try {
      // In a group there is no one contact to speak for the bot.
      const puppet = isGroupPortal(portal)
        ? undefined
        : await this.o.puppets.mxidOf(portal.contactJid);
      await portalNotice(this.o.matrix, portal.roomId, notice, puppet);
    } catch (err) {
      this.o.logger.warn("could not post a failure notice", {
        portal: portal.id,
        error: errorText(err),
      });
    }
  }

  private async status(
    portal: Portal | GroupPortal,
    eventId: string,
    status: SendStatus,
  ): Promise<void> {
    if (portal.roomId === null) return;
    try {
      await this.o.matrix.sendStatus(portal.roomId, eventId, status);
    } catch (err) {
      this.o.logger.debug("could not send a send status", {
        portal: portal.id,
        error: errorText(err),
      });
    }
  }
}
