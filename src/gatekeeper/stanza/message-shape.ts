/**
 * Which `<enc>`s a message may carry where (docs/protocol.md §8.1, §19.5), and which group
 * receipts need a `participant` (§19.6). One rule set for both directions: the decoder refuses a
 * peer's stanza with it, the encoder refuses to write one a peer would refuse.
 */
import { isGroupJid, isUserJid } from "./jid.js";
import { type FieldContext, invalid } from "./stanza-fields.js";
import type { MessageStanza, ReceiptStanza } from "./stanza-types.js";

/** Where a message goes: one-to-one, to a group (as sent), or from a group (as delivered). */
export type MessageRoute = "direct" | "to-group" | "from-group";

export function messageRoute(m: Pick<MessageStanza, "to" | "from">): MessageRoute {
  if (m.to !== undefined && isGroupJid(m.to)) return "to-group";
  if (m.from !== undefined && isGroupJid(m.from)) return "from-group";
  return "direct";
}

/** Throws StanzaError 400 unless the message's encs fit its route. */
export function checkMessageShape(m: MessageStanza, ctx: FieldContext): void {
  // Typed as pairwise, but a decoded or hand-built value may still hold "skmsg".
  if (m.enc !== undefined && (m.enc.type as string) === "skmsg") {
    throw invalid(ctx, "skmsg <enc> where a pairwise one belongs");
  }
  if (m.skmsg !== undefined && m.skmsg.type !== "skmsg")
    throw invalid(ctx, "skmsg of another type");
  for (const e of [m.enc, m.skmsg, ...(m.participants ?? []).map((p) => p.enc)]) {
    if (e !== undefined && e.ciphertext.length === 0) throw invalid(ctx, "empty <enc>");
  }
  switch (messageRoute(m)) {
    case "direct":
      if (m.skmsg !== undefined) throw invalid(ctx, "skmsg <enc> outside a group message");
      if (m.participants !== undefined) {
        throw invalid(ctx, "<participants> outside a group message");
      }
      if (m.enc === undefined) throw invalid(ctx, "missing <enc> in <message>");
      return;
    case "to-group": {
      // §19.5: pairwise encs go inside a <to>; only a retry resend may come without the skmsg.
      if (m.enc !== undefined) throw invalid(ctx, "a pairwise <enc> outside a <to>");
      const participants = m.participants ?? [];
      if (m.skmsg === undefined && (m.retry === undefined || participants.length === 0)) {
        throw invalid(ctx, "missing skmsg <enc>");
      }
      const seen = new Set<string>();
      for (const p of participants) {
        if (!isUserJid(p.jid)) throw invalid(ctx, "a <to> that is not a user");
        if (p.enc.type === ("skmsg" as string)) throw invalid(ctx, "skmsg <enc> inside a <to>");
        if (seen.has(p.jid)) throw invalid(ctx, "two <to> for one member");
        seen.add(p.jid);
      }
      return;
    }
    case "from-group":
      if (m.participant === undefined || !isUserJid(m.participant)) {
        throw invalid(ctx, "a group message without its sender (participant)");
      }
      if (m.participants !== undefined) throw invalid(ctx, "<participants> in a delivered message");
      if (m.enc === undefined && m.skmsg === undefined) throw invalid(ctx, "missing <enc>");
      return;
  }
}

/** A receipt to or from a group names the message's sender or the reader (§19.6). */
export function checkReceiptShape(r: ReceiptStanza, ctx: FieldContext): void {
  const group =
    (r.to !== undefined && isGroupJid(r.to)) || (r.from !== undefined && isGroupJid(r.from));
  if (group && (r.participant === undefined || !isUserJid(r.participant))) {
    throw invalid(ctx, "a group receipt without participant");
  }
}
