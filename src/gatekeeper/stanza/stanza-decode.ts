/**
 * XML element → typed GKI/1 stanza (docs/protocol.md §5–§14). Strict about the attributes it uses
 * (400 with the stanza's tag and id) and, as §5 requires, ignores every other attribute and element.
 */
import { StanzaError } from "./errors.js";
import { isGroupJid } from "./jid.js";
import { checkMessageShape, checkReceiptShape } from "./message-shape.js";
import {
  type FieldContext,
  childNamed,
  compact,
  decodeBase64,
  invalid,
  isValidId,
  optAttr,
  optFlag,
  optEnum,
  optId,
  optJid,
  optNum,
  parseBool,
  parseRegistration,
  reqAttr,
  reqChild,
  reqEnum,
  reqId,
  reqJid,
  reqNum,
  reqString,
} from "./stanza-fields.js";
import type {
  AckStanza,
  ChatStateStanza,
  Enc,
  IqStanza,
  MessageParticipant,
  MessageStanza,
  PairwiseEncType,
  NotificationStanza,
  PresenceStanza,
  ReceiptStanza,
  Stanza,
} from "./stanza-types.js";
import type { XmlNode } from "./xml-codec.js";

const MESSAGE_TYPES = ["text", "media"] as const;
const ENC_TYPES = ["pkmsg", "msg", "skmsg"] as const;
const RECEIPT_TYPES = ["read", "played", "retry"] as const;
const IQ_TYPES = ["get", "set", "result", "error"] as const;
const CHAT_STATES = ["composing", "paused"] as const;
const PRESENCE_TYPES = ["available", "unavailable", "subscribe"] as const;

function contextOf(node: XmlNode): FieldContext {
  const id = node.attrs.id;
  return {
    tag: node.tag,
    id: id !== undefined && isValidId(id) ? id : undefined,
    type: node.attrs.type,
  };
}

function readEnc(enc: XmlNode, ctx: FieldContext): Enc {
  if (reqAttr(enc, "v", ctx) !== "2") throw invalid(ctx, "unsupported enc v");
  const type = reqEnum(enc, "type", ENC_TYPES, ctx);
  const ciphertext = decodeBase64(enc.text ?? "", "<enc>", ctx);
  if (ciphertext.length === 0) throw invalid(ctx, "empty <enc>");
  const mediatype = optAttr(enc, "mediatype");
  return { v: 2, type, ...(mediatype === undefined ? {} : { mediatype }), ciphertext };
}

/** The encs of a group message outside `<participants>`: at most one pairwise, one skmsg. */
function groupEncs(node: XmlNode, ctx: FieldContext): Pick<MessageStanza, "enc" | "skmsg"> {
  const out: Pick<MessageStanza, "enc" | "skmsg"> = {};
  for (const child of node.children) {
    if (child.tag !== "enc") continue;
    const enc = readEnc(child, ctx);
    if (enc.type === "skmsg") {
      if (out.skmsg) throw invalid(ctx, "more than one skmsg <enc>");
      out.skmsg = { ...enc, type: "skmsg" };
    } else {
      if (out.enc) throw invalid(ctx, "more than one pairwise <enc>");
      out.enc = { ...enc, type: enc.type };
    }
  }
  return out;
}

function readParticipants(node: XmlNode, ctx: FieldContext): MessageParticipant[] {
  return node.children
    .filter((c) => c.tag === "to")
    .map((to) => {
      const enc = readEnc(reqChild(to, "enc", ctx), ctx);
      if (enc.type === "skmsg") throw invalid(ctx, "skmsg <enc> inside a <to>");
      return { jid: reqJid(to, "jid", ctx), enc: { ...enc, type: enc.type } };
    });
}

function readMessage(node: XmlNode, ctx: FieldContext): MessageStanza {
  // Attributes first, so a message without id is reported as such rather than by its payload.
  const head = {
    kind: "message" as const,
    id: reqId(node, "id", ctx),
    to: optJid(node, "to", ctx),
    from: optJid(node, "from", ctx),
    t: optNum(node, "t", ctx),
    type: reqEnum(node, "type", MESSAGE_TYPES, ctx),
    offline: optFlag(node, "offline", ctx),
    retry: optNum(node, "retry", ctx),
    notify: optAttr(node, "notify"),
  };
  const group =
    (head.to !== undefined && isGroupJid(head.to)) ||
    (head.from !== undefined && isGroupJid(head.from));
  let message: MessageStanza;
  if (!group) {
    // One-to-one (§8.1): the first <enc>; anything else in the stanza is ignored as before.
    if (childNamed(node, "participants"))
      throw invalid(ctx, "<participants> outside a group message");
    message = { ...head, enc: readEnc(reqChild(node, "enc", ctx), ctx) as Enc<PairwiseEncType> };
  } else {
    const participantsNode = childNamed(node, "participants");
    const participants = participantsNode ? readParticipants(participantsNode, ctx) : [];
    message = {
      ...head,
      participant: optJid(node, "participant", ctx),
      ...groupEncs(node, ctx),
      // An empty <participants/> says nothing: read as absent, as the encoder writes it.
      ...(participants.length > 0 ? { participants } : {}),
    };
  }
  checkMessageShape(compact(message), ctx);
  return message;
}

function readReceipt(node: XmlNode, ctx: FieldContext): ReceiptStanza {
  const id = reqId(node, "id", ctx);
  const list = childNamed(node, "list");
  const ids = list
    ? list.children.filter((c) => c.tag === "item").map((item) => reqId(item, "id", ctx))
    : [];
  const retry = childNamed(node, "retry");
  const registration = childNamed(node, "registration");
  return {
    kind: "receipt",
    id,
    to: optJid(node, "to", ctx),
    from: optJid(node, "from", ctx),
    participant: optJid(node, "participant", ctx),
    t: optNum(node, "t", ctx),
    type: optEnum(node, "type", RECEIPT_TYPES, ctx),
    offline: optFlag(node, "offline", ctx),
    ids,
    retry: retry && {
      count: reqNum(retry, "count", ctx),
      id: reqId(retry, "id", ctx),
      t: reqNum(retry, "t", ctx),
    },
    registrationId: registration && parseRegistration(registration, ctx),
  };
}

function readAck(node: XmlNode, ctx: FieldContext): AckStanza {
  return {
    kind: "ack",
    class: reqString(node, "class", ctx),
    id: optId(node, "id", ctx),
    to: optJid(node, "to", ctx),
    from: optJid(node, "from", ctx),
    participant: optJid(node, "participant", ctx),
    t: optNum(node, "t", ctx),
    type: optAttr(node, "type"),
    error: optNum(node, "error", ctx),
    text: optAttr(node, "text"),
    seq: optNum(node, "seq", ctx),
  };
}

function readIq(node: XmlNode, ctx: FieldContext): IqStanza {
  const id = reqId(node, "id", ctx);
  const type = reqEnum(node, "type", IQ_TYPES, ctx);
  const base = {
    kind: "iq" as const,
    id,
    type,
    xmlns: optAttr(node, "xmlns"),
    to: optJid(node, "to", ctx),
    from: optJid(node, "from", ctx),
  };
  if (type !== "error") return { ...base, children: node.children };
  const error = reqChild(node, "error", ctx);
  return {
    ...base,
    children: node.children.filter((c) => c !== error),
    error: {
      code: reqNum(error, "code", ctx),
      text: optAttr(error, "text"),
      retryAfter: optNum(error, "retry-after", ctx),
    },
  };
}

function readNotification(node: XmlNode, ctx: FieldContext): NotificationStanza {
  return {
    kind: "notification",
    id: reqId(node, "id", ctx),
    type: reqString(node, "type", ctx),
    from: optJid(node, "from", ctx),
    to: optJid(node, "to", ctx),
    participant: optJid(node, "participant", ctx),
    t: optNum(node, "t", ctx),
    offline: optFlag(node, "offline", ctx),
    children: node.children,
  };
}

function readChatState(node: XmlNode, ctx: FieldContext): ChatStateStanza {
  const child = node.children.find((c) => (CHAT_STATES as readonly string[]).includes(c.tag));
  if (child === undefined) throw invalid(ctx, "missing <composing/> or <paused/>");
  return {
    kind: "chatstate",
    to: optJid(node, "to", ctx),
    from: optJid(node, "from", ctx),
    participant: optJid(node, "participant", ctx),
    state: child.tag as ChatStateStanza["state"],
    media: optEnum(child, "media", ["audio"] as const, ctx),
  };
}

function readPresence(node: XmlNode, ctx: FieldContext): PresenceStanza {
  return {
    kind: "presence",
    type: reqEnum(node, "type", PRESENCE_TYPES, ctx),
    to: optJid(node, "to", ctx),
    from: optJid(node, "from", ctx),
    name: optAttr(node, "name"),
    last: optNum(node, "last", ctx),
  };
}

/**
 * Reads a parsed element as a stanza. Throws StanzaError 488 (with tag, and id when valid) for an
 * unknown top-level element, 400 (with tag and id) for a known one with a missing or invalid field.
 */
export function stanzaFromNode(node: XmlNode): Stanza {
  const ctx = contextOf(node);
  switch (node.tag) {
    case "message":
      return compact(readMessage(node, ctx));
    case "receipt": {
      const receipt = compact(readReceipt(node, ctx));
      checkReceiptShape(receipt, ctx);
      return receipt;
    }
    case "ack":
      return compact(readAck(node, ctx));
    case "iq": {
      const iq = compact(readIq(node, ctx));
      if (iq.error) compact(iq.error);
      return iq;
    }
    case "notification":
      return compact(readNotification(node, ctx));
    case "chatstate":
      return compact(readChatState(node, ctx));
    case "presence":
      return compact(readPresence(node, ctx));
    case "ib": {
      const offline = childNamed(node, "offline");
      return compact({ kind: "ib", offlineCount: offline && reqNum(offline, "count", ctx) });
    }
    case "success":
      return {
        kind: "success",
        t: reqNum(node, "t", ctx),
        jid: reqJid(node, "jid", ctx),
        enlisted: parseBool(reqAttr(node, "enlisted", ctx), "enlisted", ctx),
      };
    case "failure":
      return compact({
        kind: "failure",
        reason: reqNum(node, "reason", ctx),
        text: optAttr(node, "text"),
      });
    case "stream:error":
      return compact({
        kind: "stream-error",
        code: reqNum(node, "code", ctx),
        text: optAttr(node, "text"),
      });
    default:
      throw new StanzaError(488, `unknown stanza <${node.tag}>`, {
        tag: node.tag,
        id: ctx.id,
        text: "unknown-stanza",
      });
  }
}
