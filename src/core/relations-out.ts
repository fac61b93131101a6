/**
 * Matrix → remote for what refers to an earlier message: replies, edits, deletions and
 * reactions. Before a row goes into the outbox, its Matrix target (an event id) becomes the
 * remote id and author, looked up in the message map or, for a message still waiting in
 * the outbox, in its row (the remote id is chosen at enqueue). What the network cannot take
 * (an edit past the window, of a message never bridged) is refused here with a notice.
 *
 * One reaction per person per message (the gatekeeper's rule): a second Matrix reaction by
 * the user on the same message replaces the first on the gatekeeper, and the bridge bot
 * redacts the older Matrix reaction so both sides show the same, as mautrix-whatsapp does.
 */
import type { Login, Portal, Repositories } from "../db/repositories/index.js";
import type { BridgeContent, MatrixMessage } from "./content.js";
import { isMediaContent } from "./media.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork } from "./network.js";
import { decodeOutboxPayload } from "./outbox-payload.js";
import { isOwnMessage } from "./relations.js";
import type { OwnMessageContent, RelationContent, ReplyQuote } from "./relations.js";

export type Prepared =
  /** Queue `content`; then run `afterQueued`, if any. */
  | { kind: "send"; content: BridgeContent; afterQueued?: () => Promise<void> }
  /** Not sent: a failed send status, and a notice unless `silent`. */
  | { kind: "refuse"; reason: string; notice?: string; silent?: boolean }
  /** Nothing to send, nothing to tell (e.g. already queued, or nothing on the remote side). */
  | { kind: "skip"; reason: string };

export interface OutgoingRelationsOptions {
  repos: Repositories;
  network: RemoteNetwork;
  matrix: MatrixSide;
  logger: CoreLogger;
}

/**
 * The chat a Matrix event was written in: a one-to-one portal, or a group portal with the
 * login of the user who wrote it (the one it goes out through).
 */
export type OutgoingChat = Pick<Portal, "id" | "roomId" | "loginId">;

/** A message on the remote side, as a Matrix event refers to it. */
interface RemoteTarget {
  remoteId: string;
  sender: string;
  /** When it was sent (ms): the edit window counts from here. */
  timestamp: number;
}

/** Longest reaction key passed on (the gatekeeper's apps react with one emoji). */
const MAX_REACTION_LENGTH = 64;

export class OutgoingRelations {
  constructor(private readonly o: OutgoingRelationsOptions) {}

  private get networkName(): string {
    return this.o.network.capabilities.networkName;
  }

  /** What to queue for `message` (written by the login's user in `portal`). */
  async prepare(portal: OutgoingChat, message: MatrixMessage): Promise<Prepared> {
    const content = message.content;
    if (isOwnMessage(content)) return { kind: "send", content: await this.reply(portal, content) };
    // Taken on before (a retry after a crash): it is in the outbox as it was decided then.
    if (await this.o.repos.outbox.getByEvent(message.eventId)) {
      return { kind: "skip", reason: "already queued" };
    }
    const login = await this.o.repos.logins.get(portal.loginId);
    const ownJid = login?.jid ?? undefined;
    if (!login || ownJid === undefined) return { kind: "skip", reason: "login not enlisted" };
    switch (content.kind) {
      case "edit":
        return this.edit(portal, login, message, content);
      case "delete":
        return this.remove(portal, ownJid, content.target.id);
      case "reaction":
        return this.react(portal, ownJid, message, content.target.id, content.emoji);
    }
  }

  /** A reply names the remote message (with its author and a quote); unknown: no reply. */
  private async reply(
    portal: OutgoingChat,
    content: OwnMessageContent,
  ): Promise<OwnMessageContent> {
    if (content.replyTo === undefined) return content;
    const target = await this.resolve(portal, content.replyTo);
    if (!target) return withReply(content, undefined, undefined);
    const quote: ReplyQuote = { sender: target.sender };
    const text = await this.quotedText(portal, content.replyTo);
    if (text !== undefined) quote.text = text;
    return withReply(content, target.remoteId, quote);
  }

  private async edit(
    portal: OutgoingChat,
    login: Login,
    message: MatrixMessage,
    content: Extract<RelationContent, { kind: "edit" }>,
  ): Promise<Prepared> {
    const refuse = (why: string): Prepared => ({
      kind: "refuse",
      reason: why,
      notice: `Your message could not be edited on ${this.networkName}: ${why}.`,
    });
    const window = this.o.network.capabilities.features.edits;
    if (!window) return refuse(`${this.networkName} does not allow edits`);
    const target = await this.resolve(portal, content.target.id);
    if (!target) return refuse("the original message was never sent there");
    if (target.sender !== login.jid) return refuse("only your own messages can be edited");
    if (message.timestamp - target.timestamp > window.windowSeconds * 1000) {
      return refuse(
        `${this.networkName} allows edits only within ${duration(window.windowSeconds)} of sending`,
      );
    }
    const max = this.o.network.capabilities.maxTextLength;
    if (content.text.length > max) return refuse(`the new text is longer than ${max} characters`);
    return {
      kind: "send",
      content: { ...content, target: { id: target.remoteId, sender: target.sender } },
    };
  }

  /** A redaction: of the user's reaction (removes it), or of their message (deletes it). */
  private async remove(portal: OutgoingChat, ownJid: string, eventId: string): Promise<Prepared> {
    const { repos } = this.o;
    const reaction = await repos.reactions.getByEvent(eventId);
    if (reaction) {
      if (reaction.portalId !== portal.id || reaction.reactor !== ownJid) {
        return { kind: "skip", reason: "not the user's reaction" };
      }
      return {
        kind: "send",
        content: {
          kind: "reaction",
          target: { id: reaction.targetRemoteId, sender: reaction.targetSender },
          emoji: "",
        },
        // Forgotten only once the removal is queued: a crash before that retries it whole.
        afterQueued: async () => {
          await repos.reactions.removeByEvent(eventId);
        },
      };
    }
    if (!this.o.network.capabilities.features.deletions) {
      return { kind: "skip", reason: "the network has no deletions" };
    }
    const target = await this.resolve(portal, eventId);
    if (!target) return { kind: "skip", reason: "not a bridged message" };
    if (target.sender !== ownJid) return { kind: "skip", reason: "the contact's message" };
    return { kind: "send", content: { kind: "delete", target: ref(target) } };
  }

  private async react(
    portal: OutgoingChat,
    ownJid: string,
    message: MatrixMessage,
    targetEventId: string,
    emoji: string,
  ): Promise<Prepared> {
    const silent = (reason: string): Prepared => ({ kind: "refuse", reason, silent: true });
    if (!this.o.network.capabilities.features.reactions) {
      return silent(`${this.networkName} has no reactions`);
    }
    if (emoji === "" || emoji.length > MAX_REACTION_LENGTH) {
      return silent(`${this.networkName} takes reactions of one emoji`);
    }
    const target = await this.resolve(portal, targetEventId);
    if (!target) return silent(`the message it reacts to is not on ${this.networkName}`);
    const { repos } = this.o;
    const key = { remoteId: target.remoteId, sender: target.sender };
    const previous = await repos.reactions.get(portal.id, key, ownJid);
    if (previous && previous.mxEventId !== message.eventId) {
      await this.redactReplaced(portal, previous.mxEventId, message.eventId);
    }
    // Stored before the row is queued: a retry finds it and goes on from there.
    await repos.reactions.put({
      portalId: portal.id,
      targetRemoteId: target.remoteId,
      targetSender: target.sender,
      reactor: ownJid,
      emoji,
      mxEventId: message.eventId,
      remoteId: null,
      timestamp: message.timestamp,
    });
    return { kind: "send", content: { kind: "reaction", target: ref(target), emoji } };
  }

  /** The user's older reaction on the same message goes (best effort: it is cosmetic). */
  private async redactReplaced(portal: OutgoingChat, oldEventId: string, newEventId: string) {
    if (portal.roomId === null || !this.o.matrix.redact) return;
    try {
      await this.o.matrix.redact(
        portal.roomId,
        this.o.matrix.botMxid,
        oldEventId,
        `replaced-by\n${newEventId}`,
      );
    } catch (err) {
      this.o.logger.warn("could not redact a replaced reaction", {
        portal: portal.id,
        error: errorText(err),
      });
    }
  }

  /** The remote message a Matrix event of this portal is: mapped, or still in the outbox. */
  private async resolve(portal: OutgoingChat, eventId: string): Promise<RemoteTarget | undefined> {
    const { repos } = this.o;
    const mapped = await repos.messageMap.getByEvent(eventId);
    if (mapped) {
      if (mapped.portalId !== portal.id) return undefined;
      return {
        remoteId: mapped.remoteId,
        sender: mapped.remoteSender,
        timestamp: mapped.timestamp,
      };
    }
    const queued = await repos.outbox.getByEvent(eventId);
    if (!queued || queued.portalId !== portal.id || queued.state === "failed") return undefined;
    // Only a message of its own can be named (not an edit or a reaction row).
    let stored: BridgeContent;
    try {
      stored = decodeOutboxPayload(queued.payload);
    } catch {
      return undefined;
    }
    if (!isOwnMessage(stored)) return undefined;
    const login = await repos.logins.get(queued.loginId ?? portal.loginId);
    if (!login?.jid) return undefined;
    return { remoteId: queued.remoteId, sender: login.jid, timestamp: queued.createdAt };
  }

  private async quotedText(portal: OutgoingChat, eventId: string): Promise<string | undefined> {
    if (portal.roomId === null || !this.o.matrix.messageText) return undefined;
    try {
      return await this.o.matrix.messageText(portal.roomId, eventId);
    } catch (err) {
      // A quote is a courtesy: the reply goes without it.
      this.o.logger.debug("could not read a replied-to message", { error: errorText(err) });
      return undefined;
    }
  }
}

function ref(target: RemoteTarget): { id: string; sender: string } {
  return { id: target.remoteId, sender: target.sender };
}

/** `content` replying to `replyTo` with `quote`, or (both undefined) replying to nothing. */
function withReply(
  content: OwnMessageContent,
  replyTo: string | undefined,
  quote: ReplyQuote | undefined,
): OwnMessageContent {
  const out = { ...content } as OwnMessageContent & { replyTo?: string; quote?: ReplyQuote };
  delete out.replyTo;
  delete out.quote;
  if (replyTo !== undefined) out.replyTo = replyTo;
  // Only text-like content has room for a quote; media carries the id and its author alone
  // (the author is how a group names the message, §19.6).
  if (quote !== undefined && (out.kind === "text" || out.kind === "unsupported")) out.quote = quote;
  else if (quote?.sender !== undefined && isMediaContent(out)) out.quote = { sender: quote.sender };
  return out;
}

/** "15 minutes", "1 hour", "90 seconds". */
function duration(seconds: number): string {
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (seconds % 3600 === 0) return plural(seconds / 3600, "hour");
  if (seconds % 60 === 0) return plural(seconds / 60, "minute");
  return plural(seconds, "second");
}
