/** The changes a `w:gp2` notification announces (docs/protocol.md §19.4): built by the gatekeeper, read by clients. */
import {
  GROUP_NOTIFICATION_TYPE,
  type GroupChange,
  type GroupNotification,
  buildGroupInfo,
  isTrue,
  parseGroupInfo,
  participantJids,
  participantNodes,
} from "./group-payloads.js";
import { isGroupJid } from "./jid.js";
import {
  IQ_CTX as CTX,
  el,
  idText,
  invalid,
  numText,
  reqAttr,
  reqId,
  reqNum,
  requireChild,
  textEl,
} from "./stanza-fields.js";
import type { NotificationStanza } from "./stanza-types.js";
import type { XmlNode } from "./xml-codec.js";

/** The one child of a `w:gp2` notification for `change`. */
export function buildGroupChange(change: GroupChange): XmlNode {
  switch (change.type) {
    case "create":
      return el("create", {}, [buildGroupInfo(change.group)]);
    case "add":
    case "remove":
    case "promote":
    case "demote":
    case "leave":
      return el(change.type, {}, participantNodes(change.participants));
    case "subject":
      return el("subject", {
        subject: change.subject,
        s_t: numText(change.subjectTime, "s_t", CTX),
      });
    case "description":
      if ("deleted" in change) {
        return el("description", { id: idText(change.id, "description id", CTX), delete: "true" });
      }
      return textEl("description", change.text, { id: idText(change.id, "description id", CTX) });
    case "picture":
      if ("deleted" in change) return el("picture", { delete: "true" });
      return el("picture", { id: idText(change.id, "picture id", CTX) });
  }
}

/** The change in a `w:gp2` notification's children: the first element it knows. */
export function parseGroupChange(children: XmlNode[]): GroupChange {
  for (const node of children) {
    switch (node.tag) {
      case "create":
        return { type: "create", group: parseGroupInfo(requireChild(node.children, "group")) };
      case "add":
      case "remove":
      case "promote":
      case "demote":
      case "leave":
        return { type: node.tag, participants: participantJids(node) };
      case "subject":
        return {
          type: "subject",
          subject: reqAttr(node, "subject", CTX),
          subjectTime: reqNum(node, "s_t", CTX),
        };
      case "description": {
        const id = reqId(node, "id", CTX);
        if (isTrue(node.attrs.delete)) return { type: "description", id, deleted: true };
        return { type: "description", id, text: node.text ?? "" };
      }
      case "picture":
        if (isTrue(node.attrs.delete)) return { type: "picture", deleted: true };
        return { type: "picture", id: reqId(node, "id", CTX) };
      default:
        continue;
    }
  }
  throw invalid(CTX, "a group notification without a change");
}

/** Reads a `<notification type="w:gp2" from="G" participant>`; 400 when it is not one. */
export function parseGroupNotification(n: NotificationStanza): GroupNotification {
  if (n.type !== GROUP_NOTIFICATION_TYPE) throw invalid(CTX, "not a group notification");
  if (n.from === undefined || !isGroupJid(n.from)) throw invalid(CTX, "from is not a group");
  if (n.participant === undefined) throw invalid(CTX, "a group notification without participant");
  return {
    group: n.from,
    actor: n.participant,
    ...(n.t === undefined ? {} : { t: n.t }),
    change: parseGroupChange(n.children),
  };
}
