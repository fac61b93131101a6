/**
 * What every group operation shares (docs/protocol.md §19): the `<group>` a member sees, the
 * notifications of a change (§19.4), who may be added (consent, §19.3), and the rules that
 * run after members go: the earliest member becomes admin when none is left, and a group
 * without members is deleted.
 */
import {
  GROUP_NOTIFICATION_TYPE,
  type GroupChange,
  type GroupInfo,
  type ParticipantResult,
  buildGroupChange,
} from "../../gatekeeper/stanza/index.js";
import { allowsPartner, reachableAccount } from "../consent.js";
import type { SandboxContext } from "../context.js";
import { notify } from "../queue.js";
import { type Account, type Group, type GroupMember, isAdminRole } from "../store/index.js";

/** The actor of a change the gatekeeper made itself (§19.4). */
export const GATEKEEPER_ACTOR = "gk";

export async function groupInfo(
  ctx: SandboxContext,
  group: Group,
  members?: GroupMember[],
): Promise<GroupInfo> {
  const list = members ?? (await ctx.store.groups.members(group.jid));
  return {
    jid: group.jid,
    subject: group.subject,
    subjectTime: group.subjectTime,
    subjectOwner: group.subjectOwner,
    creator: group.creator,
    creation: Math.floor(group.createdAt / 1000),
    size: list.length,
    ...(group.description !== null && group.descriptionId !== null
      ? { description: { id: group.descriptionId, text: group.description } }
      : {}),
    ...(group.pictureId === null ? {} : { pictureId: group.pictureId }),
    participants: list.map((m) => ({ jid: m.jid, role: m.role })),
  };
}

/** Queues `<notification type="w:gp2" from=G participant=ACTOR>CHANGE</notification>` for each. */
export async function announce(
  ctx: SandboxContext,
  recipients: Iterable<string>,
  group: string,
  actor: string,
  change: GroupChange,
): Promise<void> {
  const child = buildGroupChange(change);
  for (const jid of new Set(recipients)) {
    await notify(ctx, jid, GROUP_NOTIFICATION_TYPE, group, [child], actor);
  }
}

/** The accounts of the members (a member whose account is gone is left out). */
export async function memberAccounts(
  ctx: SandboxContext,
  members: GroupMember[],
): Promise<Account[]> {
  const out: Account[] = [];
  for (const m of members) {
    const account = await ctx.store.accounts.get(m.jid);
    if (account) out.push(account);
  }
  return out;
}

/**
 * Why `candidate` may not be added by `adder` to a group of `members` (§19.3 "Consent"), or
 * null if it may. Unknown and unreachable look the same (404); a native user must allow the
 * partners of every partner member (403 to a native adder, 404 to a partner adder, who must
 * not learn who opted in); a partner user must be allowed by every native member (403).
 */
export async function addRefusal(
  ctx: SandboxContext,
  adder: Account,
  candidateJid: string,
  members: Account[],
): Promise<Omit<ParticipantResult, "jid"> | null> {
  const candidate = await reachableAccount(ctx, adder, candidateJid);
  if (!candidate) return { error: 404 };
  if (!candidate.groups) return { error: 406 };
  if (candidate.kind === "native") {
    const partners = new Set(
      members.flatMap((m) => (m.kind === "interop" && m.partnerId ? [m.partnerId] : [])),
    );
    for (const partner of partners) {
      if (!allowsPartner(candidate, partner)) {
        return adder.kind === "native"
          ? { error: 403, text: "member-not-opted-in" }
          : { error: 404 };
      }
    }
    return null;
  }
  const natives = members.filter((m) => m.kind === "native");
  if (!natives.every((n) => allowsPartner(n, candidate.partnerId))) {
    return { error: 403, text: "member-not-opted-in" };
  }
  return null;
}

/**
 * After members went: a group without members is deleted; one without an admin gets the
 * member who joined earliest as admin, announced as a `promote` by `gk` (§19.3).
 */
export async function afterDeparture(ctx: SandboxContext, group: string): Promise<void> {
  const members = await ctx.store.groups.members(group);
  if (members.length === 0) {
    await ctx.store.groups.markDeleted(group, ctx.now());
    ctx.logger.info("group deleted", { group });
    return;
  }
  if (members.some((m) => isAdminRole(m.role))) return;
  const earliest = members[0] as GroupMember;
  await ctx.store.groups.setRole(group, earliest.jid, "admin");
  await announce(
    ctx,
    members.map((m) => m.jid),
    group,
    GATEKEEPER_ACTOR,
    { type: "promote", participants: [earliest.jid] },
  );
}

/** Characters as a reader counts them (code points, not UTF-16 units). */
export function charCount(s: string): number {
  return [...s].length;
}
