/**
 * Matrix events about an earlier event, both ways: edits (m.replace with m.new_content),
 * reactions (m.reaction, an m.annotation) and redactions, as the client-server spec defines
 * them. Replies (m.in_reply_to) are sent without the body fallback: spec v1.13 removed it
 * (MSC2781), and clients strip what older senders still include. Pure, like room-content.ts.
 */
import type { BridgeContent } from "../core/content.js";
import type { IncomingMatrixMessage } from "../core/matrix-events.js";
import type { ToMarkup } from "./event-classifier.js";
import type { MatrixTextContent } from "./formatting/index.js";
import { excerpt } from "../util/unicode.js";
import { MENTIONS_KEY } from "./room-content.js";
import type { ToMatrix } from "./room-content.js";

type Json = Record<string, unknown>;

/** Code points of a reaction key at most (the longest emoji sequences are about ten). */
const MAX_REACTION_KEY = 64;

export const TEXT_MSGTYPES = new Map<string, "emote" | "notice" | undefined>([
  ["m.text", undefined],
  ["m.notice", "notice"],
  ["m.emote", "emote"],
]);

export interface RelationBase {
  roomId: string;
  eventId: string;
  sender: string;
  timestamp: number;
}

/**
 * An edit, reaction or redaction by a Matrix user as the message the core takes (with an
 * empty body: never a command); undefined when `event` is none of them.
 */
export function classifyRelation(
  type: string,
  base: RelationBase,
  event: Json,
  content: Json,
  toMarkup: ToMarkup,
): IncomingMatrixMessage | "malformed" | undefined {
  const rel = isObject(content["m.relates_to"]) ? content["m.relates_to"] : undefined;
  const message = (bridged: BridgeContent): IncomingMatrixMessage => ({
    ...base,
    body: "",
    content: bridged,
  });
  switch (type) {
    case "m.reaction": {
      const target = str(rel?.event_id);
      const key = str(rel?.key);
      if (rel?.rel_type !== "m.annotation" || !target || key === undefined) return "malformed";
      return message({ kind: "reaction", target: { id: target }, emoji: key });
    }
    case "m.room.redaction": {
      // Room v11 moved `redacts` into the content; older rooms have it at the top.
      const target = str(content.redacts) ?? str(event.redacts);
      return target ? message({ kind: "delete", target: { id: target } }) : "malformed";
    }
    case "m.room.message": {
      if (rel?.rel_type !== "m.replace") return undefined;
      const target = str(rel.event_id);
      if (!target) return "malformed";
      return message(editContent(target, content, toMarkup));
    }
    default:
      return undefined;
  }
}

/** m.new_content of a text message → an edit; anything else cannot be an edit on the network. */
function editContent(target: string, content: Json, toMarkup: ToMarkup): BridgeContent {
  const next = isObject(content["m.new_content"]) ? content["m.new_content"] : undefined;
  const msgtype = str(next?.msgtype);
  const body = str(next?.body);
  if (!next || msgtype === undefined || !TEXT_MSGTYPES.has(msgtype) || body === undefined) {
    return { kind: "unsupported", description: "an edit of a message other than text" };
  }
  const text: MatrixTextContent = { body };
  const format = str(next.format);
  const formatted = str(next.formatted_body);
  if (format !== undefined) text.format = format;
  if (formatted !== undefined) text.formatted_body = formatted;
  const edit: BridgeContent = {
    kind: "edit",
    target: { id: target },
    text: toMarkup(text, { isReply: false }),
  };
  const style = TEXT_MSGTYPES.get(msgtype);
  if (style) edit.style = style;
  return edit;
}

/**
 * The Matrix event for an edit or reaction from the remote side (targets are event ids);
 * undefined for other content.
 */
export function relationEvent(
  content: BridgeContent,
  toMatrix: ToMatrix,
): { type: string; content: Json } | undefined {
  switch (content.kind) {
    case "reaction":
      return {
        type: "m.reaction",
        content: {
          "m.relates_to": {
            rel_type: "m.annotation",
            event_id: content.target.id,
            // An emoji is a few characters; a contact's "reaction" of 60,000 is cut short.
            key: excerpt(content.emoji, MAX_REACTION_KEY),
          },
        },
      };
    case "edit": {
      const formatted = toMatrix(content.text);
      const msgtype =
        content.style === "emote" ? "m.emote" : content.style === "notice" ? "m.notice" : "m.text";
      const next: Json = { msgtype, body: formatted.body };
      // The fallback for clients without edits: the new text marked with "* ".
      const out: Json = { msgtype, body: `* ${formatted.body}` };
      if (formatted.format !== undefined && formatted.formatted_body !== undefined) {
        next.format = out.format = formatted.format;
        next.formatted_body = formatted.formatted_body;
        out.formatted_body = `* ${formatted.formatted_body}`;
      }
      // An edit mentions nobody, and neither does the text it puts in place.
      next[MENTIONS_KEY] = {};
      out[MENTIONS_KEY] = {};
      out["m.new_content"] = next;
      out["m.relates_to"] = { rel_type: "m.replace", event_id: content.target.id };
      return { type: "m.room.message", content: out };
    }
    default:
      return undefined;
  }
}

/**
 * The text of a message event (GET /rooms/{id}/event/{eventId}) in the gatekeeper's markup,
 * for a reply's quote: its latest edit when the server bundles one, without the reply
 * fallback; a media message's caption. Undefined when there is no text (or it was redacted).
 */
export function quotableText(event: Json, toMarkup: ToMarkup): string | undefined {
  if (event.type !== "m.room.message" || !isObject(event.content)) return undefined;
  const unsigned = isObject(event.unsigned) ? event.unsigned : {};
  const relations = isObject(unsigned["m.relations"]) ? unsigned["m.relations"] : {};
  const edit = isObject(relations["m.replace"]) ? relations["m.replace"] : {};
  const edited = isObject(edit.content) ? edit.content["m.new_content"] : undefined;
  const content = isObject(edited) ? edited : event.content;
  const msgtype = str(content.msgtype);
  const body = str(content.body);
  if (msgtype === undefined || body === undefined) return undefined;
  if (!TEXT_MSGTYPES.has(msgtype)) {
    // Media: the body is a caption only when a separate file name is given.
    const filename = str(content.filename);
    return filename !== undefined && filename !== body ? body : undefined;
  }
  const text: MatrixTextContent = { body };
  const format = str(content.format);
  const formatted = str(content.formatted_body);
  if (format !== undefined) text.format = format;
  if (formatted !== undefined) text.formatted_body = formatted;
  const rel = event.content["m.relates_to"];
  const isReply = !isObject(edited) && isObject(rel) && isObject(rel["m.in_reply_to"]);
  return toMarkup(text, { isReply });
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
