/**
 * Remote → Matrix for what refers to an earlier message: replies, edits, deletions and
 * reactions from the contact, posted as their puppet relating to the mapped Matrix event.
 * Every Matrix request carries a txn key derived from the remote message, so a redelivery
 * after a crash gets the first event back instead of a second one.
 *
 * A target the bridge never saw is handled without an error: a reply becomes a plain
 * message (with the quoted text when the contact's app sent a copy), an edit shows its new
 * text as a message, a deletion or reaction of it is dropped.
 */
import type { Login, Repositories } from "../db/repositories/index.js";
import type { BridgeContent, RemoteMessage } from "./content.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { Portal } from "../db/repositories/index.js";
import type { MessageRef, RelationContent, ReplyQuote } from "./relations.js";
import { withTextPrefix } from "./group-mentions.js";

export interface IncomingRelationsOptions {
  repos: Repositories;
  matrix: MatrixSide;
  logger: CoreLogger;
}

/** Where a relation is posted: the portal (one-to-one or group), its room, the author's puppet. */
export interface RelationTarget {
  portalId: number;
  roomId: string;
  puppetMxid: string;
  /** One to one: whose message a target without a sender is (the contact's). */
  contactJid?: string;
}

export class IncomingRelations {
  constructor(private readonly o: IncomingRelationsOptions) {}

  /** A reply's target (a remote id) → its Matrix event id; unknown: no reply, quote shown. */
  async replyContent(portal: Portal, login: Login, content: BridgeContent): Promise<BridgeContent> {
    if (!("replyTo" in content) || content.replyTo === undefined) return content;
    const quote: ReplyQuote | undefined = "quote" in content ? content.quote : undefined;
    const out = { ...content } as BridgeContent & {
      replyTo?: string;
      quote?: ReplyQuote;
      mentions?: string[];
    };
    delete out.replyTo;
    delete out.quote;
    const senders =
      quote?.sender !== undefined
        ? [quote.sender]
        : [portal.contactJid, ...(login.jid ? [login.jid] : [])];
    for (const sender of senders) {
      const mapped = await this.o.repos.messageMap.getByRemote(portal.id, sender, content.replyTo);
      if (mapped) {
        out.replyTo = mapped.mxEventId;
        // An answer to the user's own message mentions them, as a Matrix reply does.
        if (login.jid !== null && sender === login.jid) out.mentions = [login.mxid];
        return out;
      }
    }
    this.o.logger.debug("reply to a message the bridge never saw", { portal: portal.id });
    if (out.kind === "text" && quote?.text) out.text = `${quoteLines(quote.text)}\n${out.text}`;
    return out;
  }

  /**
   * In a group the reply names the quoted message's sender (§19.6); an answer to a message
   * of one of this bridge's users mentions them, as a Matrix reply does.
   */
  async groupReplyContent(portalId: number, content: BridgeContent): Promise<BridgeContent> {
    if (!("replyTo" in content) || content.replyTo === undefined) return content;
    const quote: ReplyQuote | undefined = "quote" in content ? content.quote : undefined;
    const out = { ...content } as BridgeContent & {
      replyTo?: string;
      quote?: ReplyQuote;
      mentions?: string[];
    };
    delete out.replyTo;
    delete out.quote;
    const sender = quote?.sender;
    const mapped =
      sender === undefined
        ? undefined
        : await this.o.repos.messageMap.getByRemote(portalId, sender, content.replyTo);
    if (mapped && sender !== undefined) {
      out.replyTo = mapped.mxEventId;
      const ours = await this.o.repos.logins.getByJid(sender);
      if (ours) out.mentions = [ours.mxid];
      return out;
    }
    this.o.logger.debug("reply to a message the bridge never saw", { portal: portalId });
    // The mentions' spans move with the text.
    if (out.kind === "text" && quote?.text)
      return withTextPrefix(out, `${quoteLines(quote.text)}\n`);
    return out;
  }

  /**
   * Posts an edit, deletion or reaction `message` of the contact (a member) in its portal;
   * `txnKey` is stable per remote message.
   */
  async deliver(
    open: RelationTarget,
    message: RemoteMessage,
    content: RelationContent,
    txnKey: string,
  ): Promise<void> {
    switch (content.kind) {
      case "edit":
        return this.edit(open, message, content, txnKey);
      case "delete":
        return this.remove(open, message, content.target, txnKey);
      case "reaction":
        return this.react(open, message, content.target, content.emoji, txnKey);
    }
  }

  private async edit(
    open: RelationTarget,
    message: RemoteMessage,
    content: Extract<RelationContent, { kind: "edit" }>,
    txnKey: string,
  ): Promise<void> {
    const style = content.style === undefined ? {} : { style: content.style };
    const target = await this.authored(open.portalId, content.target, message.sender);
    // Never seen (or not theirs to edit): the new text is still worth showing.
    const post: BridgeContent = target
      ? { kind: "edit", target: { id: target }, text: content.text, ...style }
      : { kind: "text", text: content.text, ...style };
    if (!target) this.o.logger.debug("edit of a message the bridge never saw", { id: message.id });
    await this.o.matrix.sendMessage(open.roomId, open.puppetMxid, post, txnKey, message.timestamp);
  }

  private async remove(
    open: RelationTarget,
    message: RemoteMessage,
    targetRef: MessageRef,
    txnKey: string,
  ): Promise<void> {
    const target = await this.authored(open.portalId, targetRef, message.sender);
    if (!target || !this.o.matrix.redact) {
      this.o.logger.debug("deletion of a message the bridge never saw", { id: message.id });
      return;
    }
    await this.o.matrix.redact(open.roomId, open.puppetMxid, target, txnKey);
  }

  private async react(
    open: RelationTarget,
    message: RemoteMessage,
    targetRef: MessageRef,
    emoji: string,
    txnKey: string,
  ): Promise<void> {
    const { repos, matrix } = this.o;
    const { portalId, roomId, puppetMxid } = open;
    const sender = targetRef.sender ?? open.contactJid;
    if (sender === undefined) return; // a group's target always names its sender
    const key = { remoteId: targetRef.id, sender };
    const previous = await repos.reactions.get(portalId, key, message.sender);
    if (previous?.remoteId === message.id) return; // redelivered, already shown
    if (emoji === "") {
      if (!previous || !matrix.redact) return;
      await matrix.redact(roomId, puppetMxid, previous.mxEventId, txnKey);
      await repos.reactions.removeByEvent(previous.mxEventId);
      return;
    }
    const target = await repos.messageMap.getByRemote(portalId, key.sender, key.remoteId);
    if (!target) {
      this.o.logger.debug("reaction to a message the bridge never saw", { id: message.id });
      return;
    }
    if (previous?.emoji === emoji) return;
    // One reaction per person per message: the new one replaces theirs.
    if (previous && matrix.redact) {
      await matrix.redact(roomId, puppetMxid, previous.mxEventId, `${txnKey}:replaced`);
    }
    const eventId = await matrix.sendMessage(
      roomId,
      puppetMxid,
      { kind: "reaction", target: { id: target.mxEventId }, emoji },
      txnKey,
      message.timestamp,
    );
    await repos.reactions.put({
      portalId,
      targetRemoteId: key.remoteId,
      targetSender: key.sender,
      reactor: message.sender,
      emoji,
      mxEventId: eventId,
      remoteId: message.id,
      timestamp: message.timestamp,
    });
  }

  /** The Matrix event of `ref` if `author` wrote it (only authors edit or delete). */
  private async authored(
    portalId: number,
    ref: MessageRef,
    author: string,
  ): Promise<string | undefined> {
    if (ref.sender !== undefined && ref.sender !== author) return undefined;
    const mapped = await this.o.repos.messageMap.getByRemote(portalId, author, ref.id);
    return mapped?.mxEventId;
  }
}

/** The quoted text as markup quote lines. */
function quoteLines(text: string): string {
  return text
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
}
