/**
 * What the bridge does with one event the homeserver pushed: the filter and the conversion
 * table between Matrix event JSON and what the core's MatrixEventSink takes. Pure: the
 * intake worker calls the sink with the result.
 */
import type { BridgeContent } from "../core/content.js";
import type { IncomingMatrixMessage } from "../core/matrix-events.js";
import type { MatrixTextContent } from "./formatting/index.js";
import { mentionSpans } from "./matrix-mentions.js";
import { classifyRelation } from "./relation-events.js";
import { mediaFromEvent, mediaKindOf } from "./media-content.js";
import type { ToMarkupWithMentions } from "./media-content.js";
import type { MediaKind } from "../core/media.js";

/** Matrix text (HTML or plain) to the gatekeeper's markup: formatting's matrixToMarkup. */
export type ToMarkup = (content: MatrixTextContent, options: { isReply: boolean }) => string;

export interface ClassifyContext {
  botMxid: string;
  /** True for the bot and every puppet (the registration's user namespaces). */
  isBridgeUser(userId: string): boolean;
  toMarkup: ToMarkup;
  /** As toMarkup, with the pills; without it, a message mentions no one. */
  toMarkupWithMentions?: ToMarkupWithMentions;
}

export type IntakeAction =
  | { kind: "ignore"; reason: string }
  | { kind: "message"; message: IncomingMatrixMessage }
  | { kind: "bot-invited"; roomId: string; inviter: string; isDirect: boolean }
  | { kind: "membership"; roomId: string; userMxid: string; membership: "join" | "leave" | "ban" }
  /** A real user invited or kicked (banned) a puppet. */
  | {
      kind: "puppet-membership";
      roomId: string;
      sender: string;
      puppetMxid: string;
      membership: "invite" | "leave" | "ban";
    }
  /** A real user renamed a room. */
  | { kind: "room-name"; roomId: string; sender: string; name: string };

type Json = Record<string, unknown>;

const MENTIONS = "m.mentions";

const TEXT_STYLES = new Map<string, "emote" | "notice" | undefined>([
  ["m.text", undefined],
  ["m.notice", "notice"],
  ["m.emote", "emote"],
]);

/** How an unsupported message is named to the user ("Your ... could not be sent"). */
const UNSUPPORTED_MSGTYPES = new Map<string, string>([
  ["m.image", "an image"],
  ["m.file", "a file"],
  ["m.audio", "an audio message"],
  ["m.video", "a video"],
  ["m.location", "a location"],
  ["m.key.verification.request", "a verification request"],
]);

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function classifyEvent(event: Json, ctx: ClassifyContext): IntakeAction {
  const type = str(event.type);
  const roomId = str(event.room_id);
  const eventId = str(event.event_id);
  const sender = str(event.sender);
  if (!type || !roomId || !eventId || !sender) return ignore("malformed event");
  // Echoes of what the bridge itself did (as the bot or a puppet).
  if (ctx.isBridgeUser(sender) || sender === ctx.botMxid) return ignore("sent by the bridge");
  const content = isObject(event.content) ? event.content : {};

  if (typeof event.state_key === "string") {
    if (type === "m.room.name" && event.state_key === "") {
      return { kind: "room-name", roomId, sender, name: str(content.name) ?? "" };
    }
    if (type !== "m.room.member") return ignore(`state event ${type}`);
    return classifyMembership(event, event.state_key, roomId, sender, content, ctx);
  }

  const timestamp =
    typeof event.origin_server_ts === "number" ? event.origin_server_ts : Date.now();
  const base = { roomId, eventId, sender, timestamp };
  // Edits, reactions and redactions (relation-events.ts).
  const relation = classifyRelation(type, base, event, content, ctx.toMarkup);
  if (relation === "malformed") return ignore(`malformed ${type}`);
  if (relation) return { kind: "message", message: relation };
  switch (type) {
    case "m.room.message":
      return classifyMessage(base, content, ctx);
    case "m.sticker":
      // Stickers go as images (the gatekeeper has no stickers).
      return (
        mediaMessage(base, content, "image", ctx, true) ?? unsupported(base, content, "a sticker")
      );
    case "m.room.encrypted":
      return unsupported(
        base,
        content,
        "an end-to-end encrypted message (the bridge cannot read encrypted rooms)",
      );
    default:
      return ignore(`event type ${type}`);
  }
}

function classifyMembership(
  event: Json,
  target: string,
  roomId: string,
  sender: string,
  content: Json,
  ctx: ClassifyContext,
): IntakeAction {
  const membership = str(content.membership);
  if (target === ctx.botMxid) {
    if (membership !== "invite") return ignore(`bot membership ${String(membership)}`);
    return { kind: "bot-invited", roomId, inviter: sender, isDirect: content.is_direct === true };
  }
  if (ctx.isBridgeUser(target)) {
    const change = membership === "invite" || membership === "leave" || membership === "ban";
    if (!change || sender === target) return ignore("membership of a puppet");
    return { kind: "puppet-membership", roomId, sender, puppetMxid: target, membership };
  }
  if (membership !== "join" && membership !== "leave" && membership !== "ban") {
    return ignore(`membership ${String(membership)}`);
  }
  const unsigned = isObject(event.unsigned) ? event.unsigned : {};
  const prev = isObject(unsigned.prev_content) ? str(unsigned.prev_content.membership) : undefined;
  // join -> join is a display name or avatar change, not a membership change.
  if (membership === "join" && prev === "join") return ignore("profile change");
  return { kind: "membership", roomId, userMxid: target, membership };
}

interface MessageBase {
  roomId: string;
  eventId: string;
  sender: string;
  timestamp: number;
}

function replyTarget(content: Json): string | undefined {
  const rel = content["m.relates_to"];
  if (!isObject(rel)) return undefined;
  // In a thread, a client sets in_reply_to as a fallback for thread-unaware clients only.
  if (rel.is_falling_back === true) return undefined;
  const inReplyTo = rel["m.in_reply_to"];
  return isObject(inReplyTo) ? str(inReplyTo.event_id) : undefined;
}

function classifyMessage(base: MessageBase, content: Json, ctx: ClassifyContext): IntakeAction {
  const msgtype = str(content.msgtype);
  // A redacted message arrives with empty content.
  if (msgtype === undefined && content.body === undefined) return ignore("redacted message");
  const body = str(content.body);
  if (msgtype !== undefined && TEXT_STYLES.has(msgtype) && body !== undefined) {
    const replyTo = replyTarget(content);
    const textContent: MatrixTextContent = { body };
    const format = str(content.format);
    const formatted = str(content.formatted_body);
    if (format !== undefined) textContent.format = format;
    if (formatted !== undefined) textContent.formatted_body = formatted;
    const isReply = { isReply: replyTo !== undefined };
    const { text, mentions: pills } = ctx.toMarkupWithMentions
      ? ctx.toMarkupWithMentions(textContent, isReply)
      : { text: ctx.toMarkup(textContent, isReply), mentions: [] };
    const bridged: BridgeContent = { kind: "text", text };
    const style = TEXT_STYLES.get(msgtype);
    if (style) bridged.style = style;
    if (replyTo) bridged.replyTo = replyTo;
    const mentions = ctx.toMarkupWithMentions ? mentionSpans(text, pills, content[MENTIONS]) : [];
    if (mentions.length > 0) bridged.matrixMentions = mentions;
    return { kind: "message", message: { ...base, body, content: bridged } };
  }
  const mediaKind = mediaKindOf(msgtype);
  const media = mediaKind && mediaMessage(base, content, mediaKind, ctx, false);
  if (media) return media;
  const description =
    (msgtype !== undefined ? UNSUPPORTED_MSGTYPES.get(msgtype) : undefined) ??
    "a message of a type the bridge does not support";
  return unsupported(base, content, description);
}

/** m.image/m.video/m.audio/m.file/m.sticker with a plain mxc URL (else undefined: unsupported). */
function mediaMessage(
  base: MessageBase,
  content: Json,
  kind: MediaKind,
  ctx: ClassifyContext,
  sticker: boolean,
): IntakeAction | undefined {
  const replyTo = replyTarget(content);
  const isReply = replyTo !== undefined;
  const bridged = mediaFromEvent(kind, content, {
    sticker,
    isReply,
    toMarkup: ctx.toMarkup,
    ...(ctx.toMarkupWithMentions ? { toMarkupWithMentions: ctx.toMarkupWithMentions } : {}),
  });
  if (!bridged) return undefined;
  if (replyTo) bridged.replyTo = replyTo;
  // The body is a caption or a file name, never a command.
  return { kind: "message", message: { ...base, body: "", content: bridged } };
}

function unsupported(base: MessageBase, content: Json, description: string): IntakeAction {
  const bridged: BridgeContent = { kind: "unsupported", description };
  const replyTo = replyTarget(content);
  if (replyTo) bridged.replyTo = replyTo;
  return {
    kind: "message",
    message: { ...base, body: str(content.body) ?? "", content: bridged },
  };
}

function ignore(reason: string): IntakeAction {
  return { kind: "ignore", reason };
}
