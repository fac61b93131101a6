/**
 * Group messages, receipts and chat states (docs/protocol.md §19.5, §19.6). A message is sent
 * once and fanned out: one stored copy per other member, with that member's pairwise `<to>`
 * enc if the sender gave one, acked to the sender once every copy is stored. The `<enc>`
 * bytes are relayed as they came; the sandbox never sees content.
 */
import { createHash } from "node:crypto";
import type {
  ChatStateStanza,
  MessageParticipant,
  MessageStanza,
  ReceiptStanza,
} from "../../gatekeeper/stanza/index.js";
import { allowsPartner } from "../consent.js";
import { type SandboxContext, unixSeconds } from "../context.js";
import { SandboxError } from "../errors.js";
import { enqueue } from "../queue.js";
import { retryAfterSeconds } from "../rate-limit.js";
import type { Account } from "../store/index.js";

export type GroupRouteResult = { t: number };

/**
 * Whether `recipient` gets group stanzas from `sender`: not if it blocked the sender (§19.6;
 * `either`: or was blocked by it, for receipts and chat states as in §12.4), and not if it is a
 * native user who no longer allows the sender's partner (§19.3 "Consent").
 */
async function receivesFrom(
  ctx: SandboxContext,
  sender: Account,
  recipient: Account,
  either: boolean,
): Promise<boolean> {
  const { contacts } = ctx.store;
  const blocked = either
    ? await contacts.eitherBlocked(sender.jid, recipient.jid)
    : await contacts.isBlocked(recipient.jid, sender.jid);
  if (blocked) return false;
  if (recipient.kind === "native" && sender.kind === "interop") {
    return allowsPartner(recipient, sender.partnerId);
  }
  return true;
}

/** The sender's membership, or 404 item-not-found (unknown group, or one you are not in). */
async function requireMember(ctx: SandboxContext, group: string, jid: string): Promise<void> {
  const live = await ctx.store.groups.get(group);
  if (!live || (await ctx.store.groups.role(group, jid)) === null) {
    throw new SandboxError(404, "item-not-found");
  }
}

/**
 * Dedupe kind of a group message. A retry resend goes to the members who asked, each with
 * their own retry count, so two members' resends share (id, retry): the targets are part of
 * the key (hashed, to fit the column).
 */
function dedupeKind(m: MessageStanza, participants: MessageParticipant[]): string {
  if (m.skmsg !== undefined) return "message";
  const targets = participants
    .map((p) => p.jid)
    .sort()
    .join(",");
  return `gretry:${createHash("sha256").update(targets).digest("hex").slice(0, 9)}`;
}

export async function routeGroupMessage(
  ctx: SandboxContext,
  sender: Account,
  m: MessageStanza,
): Promise<GroupRouteResult> {
  const group = m.to as string;
  const retry = m.retry ?? 0;
  const participants = m.participants ?? [];
  const kind = dedupeKind(m, participants);
  const { queue, groups, accounts } = ctx.store;

  const earlier = await queue.acceptedAt(sender.jid, kind, m.id, retry);
  if (earlier !== null) return { t: earlier };
  await requireMember(ctx, group, sender.jid);

  // Once per message, however many members it goes to (§19.7).
  const rate = ctx.limiters.messages.take(sender.jid);
  if (!rate.ok) {
    throw new SandboxError(429, "messages", { retryAfter: retryAfterSeconds(rate.retryAfterMs) });
  }
  const t = unixSeconds(ctx);
  const pairwise = new Map(participants.map((p) => [p.jid, p.enc]));
  for (const member of await groups.members(group)) {
    if (member.jid === sender.jid) continue;
    const enc = pairwise.get(member.jid);
    // A retry resend (no skmsg) goes only to the members it names (§19.5).
    if (m.skmsg === undefined && enc === undefined) continue;
    const recipient = await accounts.get(member.jid);
    if (!recipient || !(await receivesFrom(ctx, sender, recipient, false))) continue;
    const delivered: MessageStanza = {
      kind: "message",
      id: m.id,
      from: group,
      participant: sender.jid,
      t,
      type: m.type,
      ...(m.retry === undefined ? {} : { retry: m.retry }),
      ...(sender.name ? { notify: sender.name } : {}),
      ...(enc === undefined ? {} : { enc }),
      ...(m.skmsg === undefined ? {} : { skmsg: m.skmsg }),
    };
    await enqueue(ctx, {
      recipient: member.jid,
      sender: group,
      participant: sender.jid,
      kind: "message",
      stanzaId: m.id,
      stanza: delivered,
    });
  }
  // A <to> naming someone who is not a member was simply not delivered (§19.5).
  await queue.recordAccepted(sender.jid, kind, m.id, retry, t, ctx.now());
  return { t };
}

/** `<receipt to=G participant=SENDER>`: to SENDER only, as `from=G participant=READER` (§19.6). */
export async function routeGroupReceipt(
  ctx: SandboxContext,
  reader: Account,
  r: ReceiptStanza,
): Promise<GroupRouteResult> {
  const group = r.to as string;
  const target = r.participant;
  if (target === undefined) throw new SandboxError(400, "missing-participant");
  if (target === reader.jid) throw new SandboxError(400, "to-self");
  const retry = r.retry?.count ?? 0;
  const kind = `receipt:${r.type ?? "delivery"}`;
  const { queue, groups, accounts } = ctx.store;

  const earlier = await queue.acceptedAt(reader.jid, kind, r.id, retry);
  if (earlier !== null) return { t: earlier };
  await requireMember(ctx, group, reader.jid);

  const t = unixSeconds(ctx);
  const recordAndAck = async (): Promise<GroupRouteResult> => {
    await queue.recordAccepted(reader.jid, kind, r.id, retry, t, ctx.now());
    return { t };
  };
  const sender = (await groups.role(group, target)) === null ? null : await accounts.get(target);
  // A sender who left gets nothing more from the group; the reader is acked all the same.
  if (!sender) return recordAndAck();
  // §13 reciprocity, per pair.
  const droppedRead = r.type === "read" && (!sender.sendReadReceipts || !reader.sendReadReceipts);
  if (droppedRead || !(await receivesFrom(ctx, reader, sender, true))) return recordAndAck();

  const delivered: ReceiptStanza = {
    kind: "receipt",
    id: r.id,
    from: group,
    participant: reader.jid,
    t: r.t ?? t,
    ids: r.ids,
    ...(r.type === undefined ? {} : { type: r.type }),
    ...(r.retry === undefined ? {} : { retry: r.retry }),
    ...(r.registrationId === undefined ? {} : { registrationId: r.registrationId }),
  };
  await enqueue(ctx, {
    recipient: sender.jid,
    sender: group,
    participant: reader.jid,
    kind: "receipt",
    stanzaId: r.id,
    type: r.type ?? "",
    stanza: delivered,
  });
  return recordAndAck();
}

/** `<chatstate to=G>`: to every connected member, as `from=G participant=S`; never queued. */
export async function routeGroupChatState(
  ctx: SandboxContext,
  sender: Account,
  c: ChatStateStanza,
): Promise<void> {
  const group = c.to as string;
  const { groups, accounts } = ctx.store;
  if (!(await groups.get(group)) || (await groups.role(group, sender.jid)) === null) return;
  for (const member of await groups.members(group)) {
    if (member.jid === sender.jid) continue;
    const session = ctx.sessions.get(member.jid);
    if (!session) continue;
    const recipient = await accounts.get(member.jid);
    if (!recipient || !(await receivesFrom(ctx, sender, recipient, true))) continue;
    session.send({
      kind: "chatstate",
      from: group,
      participant: sender.jid,
      state: c.state,
      ...(c.media === undefined ? {} : { media: c.media }),
    });
  }
}
