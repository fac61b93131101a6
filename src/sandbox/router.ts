/**
 * Messages and receipts from a client (docs/protocol.md §8, §9, §12.3,
 * §12.4, §13): checked, stored for the recipient, then acked to the sender
 * with the server time. The sandbox relays the `<enc>` bytes as they came; it
 * never sees, parses or stores content.
 */
import {
  type MessageStanza,
  type ReceiptStanza,
  type Stanza,
  isGroupJid,
} from "../gatekeeper/stanza/index.js";
import { reachableAccount } from "./consent.js";
import { type SandboxContext, unixSeconds } from "./context.js";
import { SandboxError } from "./errors.js";
import { routeGroupMessage, routeGroupReceipt } from "./groups/index.js";
import { enqueue } from "./queue.js";
import { retryAfterSeconds } from "./rate-limit.js";
import type { Account } from "./store/index.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** The answer for the sender: an ack with `t`, or a SandboxError turned into a negative ack. */
export type RouteResult = { t: number };

function requireRecipient(sender: Account, to: string | undefined): string {
  if (to === undefined || to === "gk") throw new SandboxError(400, "missing-to");
  // Not a 404: the sender knows its own address, so saying so reveals nothing (§5.1).
  if (to === sender.jid) throw new SandboxError(400, "to-self");
  return to;
}

async function checkFirstContact(
  ctx: SandboxContext,
  sender: Account,
  recipient: Account,
): Promise<boolean> {
  const { contacts } = ctx.store;
  if (await contacts.hasConversation(sender.jid, recipient.jid)) return false;
  if (sender.kind === "interop") {
    const since = ctx.now() - DAY_MS;
    const started = await contacts.conversationsStartedSince(sender.jid, since);
    if (started >= ctx.limits.newConversationsPerDay) {
      const oldest = (await contacts.oldestStartSince(sender.jid, since)) ?? ctx.now();
      throw new SandboxError(429, "new-conversations", {
        retryAfter: retryAfterSeconds(oldest + DAY_MS - ctx.now()),
      });
    }
  }
  return true;
}

export async function routeMessage(
  ctx: SandboxContext,
  sender: Account,
  m: MessageStanza,
): Promise<RouteResult> {
  if (m.to !== undefined && isGroupJid(m.to)) return routeGroupMessage(ctx, sender, m);
  const to = requireRecipient(sender, m.to);
  // The codec reads a message by its addresses; to a user it must be one-to-one (§8.1).
  const enc = m.enc;
  if (enc === undefined || m.skmsg !== undefined || m.participants !== undefined) {
    throw new SandboxError(400, "bad-enc");
  }
  const retry = m.retry ?? 0;
  const { queue, contacts } = ctx.store;

  // A resend after a lost ack gets the original ack and is not delivered again (§8.1).
  const earlier = await queue.acceptedAt(sender.jid, "message", m.id, retry);
  if (earlier !== null) return { t: earlier };

  const recipient = await reachableAccount(ctx, sender, to);
  if (!recipient) throw new SandboxError(404);

  const rate = ctx.limiters.messages.take(sender.jid);
  if (!rate.ok)
    throw new SandboxError(429, "messages", { retryAfter: retryAfterSeconds(rate.retryAfterMs) });

  const t = unixSeconds(ctx);
  const now = ctx.now();
  // Blocked: acked as if delivered, as the gatekeeper's own clients see it (§12.3).
  if (await contacts.isBlocked(recipient.jid, sender.jid)) {
    await queue.recordAccepted(sender.jid, "message", m.id, retry, t, now);
    return { t };
  }
  const isNew = await checkFirstContact(ctx, sender, recipient);

  const delivered: Stanza = {
    kind: "message",
    id: m.id,
    from: sender.jid,
    t,
    type: m.type,
    ...(m.retry === undefined ? {} : { retry: m.retry }),
    // The sender's push name travels with each message, so a first message shows a name.
    ...(sender.name ? { notify: sender.name } : {}),
    enc,
  };
  await enqueue(ctx, {
    recipient: recipient.jid,
    sender: sender.jid,
    kind: "message",
    stanzaId: m.id,
    stanza: delivered,
  });
  await queue.recordAccepted(sender.jid, "message", m.id, retry, t, now);
  if (isNew) await contacts.addConversation(sender.jid, recipient.jid, now);
  return { t };
}

/** Dedupe key of a receipt: delivery, read and played receipts of one message share its id. */
function receiptKind(r: ReceiptStanza): string {
  return `receipt:${r.type ?? "delivery"}`;
}

export async function routeReceipt(
  ctx: SandboxContext,
  sender: Account,
  r: ReceiptStanza,
): Promise<RouteResult> {
  if (r.to !== undefined && isGroupJid(r.to)) return routeGroupReceipt(ctx, sender, r);
  const to = requireRecipient(sender, r.to);
  const retry = r.retry?.count ?? 0;
  const { queue, contacts } = ctx.store;
  const dedupeKind = receiptKind(r);

  const earlier = await queue.acceptedAt(sender.jid, dedupeKind, r.id, retry);
  if (earlier !== null) return { t: earlier };

  const recipient = await reachableAccount(ctx, sender, to);
  if (!recipient) throw new SandboxError(404);

  const t = unixSeconds(ctx);
  const now = ctx.now();
  // Read receipts are reciprocal (§13): neither sent by nor sent to a user who turned them off.
  const droppedRead =
    r.type === "read" && (!recipient.sendReadReceipts || !sender.sendReadReceipts);
  if (droppedRead || (await contacts.eitherBlocked(sender.jid, recipient.jid))) {
    await queue.recordAccepted(sender.jid, dedupeKind, r.id, retry, t, now);
    return { t };
  }

  const delivered: ReceiptStanza = {
    kind: "receipt",
    id: r.id,
    from: sender.jid,
    t: r.t ?? t,
    ids: r.ids,
    ...(r.type === undefined ? {} : { type: r.type }),
    ...(r.retry === undefined ? {} : { retry: r.retry }),
    ...(r.registrationId === undefined ? {} : { registrationId: r.registrationId }),
  };
  await enqueue(ctx, {
    recipient: recipient.jid,
    sender: sender.jid,
    kind: "receipt",
    stanzaId: r.id,
    type: r.type ?? "",
    stanza: delivered,
  });
  await queue.recordAccepted(sender.jid, dedupeKind, r.id, retry, t, now);
  return { t };
}
