/**
 * add / remove / promote / demote (docs/protocol.md §19.3): each participant succeeds or fails
 * on its own, and the ones that changed are announced (§19.4).
 */
import type { MembershipOp, ParticipantResult } from "../../gatekeeper/stanza/index.js";
import type { SandboxContext } from "../context.js";
import type { Account, Group, GroupMember } from "../store/index.js";
import { addRefusal, afterDeparture, announce, groupInfo } from "./members.js";

export async function applyMembership(
  ctx: SandboxContext,
  me: Account,
  group: Group,
  members: GroupMember[],
  accounts: Account[],
  op: MembershipOp,
  participants: string[],
): Promise<ParticipantResult[]> {
  const { groups } = ctx.store;
  const jid = group.jid;
  const before = members.map((m) => m.jid);
  const roles = new Map(members.map((m) => [m.jid, m.role]));
  const results: ParticipantResult[] = [];
  const changed: string[] = [];
  const now = ctx.now();

  for (const target of participants) {
    const role = roles.get(target);
    if (op === "add") {
      if (role !== undefined) {
        results.push({ jid: target, error: 409 });
        continue;
      }
      const refusal = await addRefusal(ctx, me, target, accounts);
      if (refusal) {
        results.push({ jid: target, ...refusal });
        continue;
      }
      if (roles.size >= ctx.limits.groupMembersMax) {
        results.push({ jid: target, error: 429, text: "group-full" });
        continue;
      }
      await groups.addMember(jid, target, "member", now);
      roles.set(target, "member");
      const account = await ctx.store.accounts.get(target);
      if (account) accounts.push(account);
      changed.push(target);
      results.push({ jid: target });
      continue;
    }
    if (role === undefined) {
      results.push({ jid: target, error: 409 });
      continue;
    }
    // A superadmin cannot be removed or demoted by others (§19.3).
    if ((op === "remove" || op === "demote") && role === "superadmin" && target !== me.jid) {
      results.push({ jid: target, error: 403, text: "superadmin" });
      continue;
    }
    if (op === "remove") {
      await groups.removeMember(jid, target);
      roles.delete(target);
      changed.push(target);
    } else if (op === "promote") {
      if (role === "member") {
        await groups.setRole(jid, target, "admin");
        roles.set(target, "admin");
        changed.push(target);
      }
    } else if (role !== "member") {
      await groups.setRole(jid, target, "member");
      roles.set(target, "member");
      changed.push(target);
    }
    results.push({ jid: target });
  }

  if (changed.length === 0) return results;
  if (op === "add") {
    // Those who were there hear of the add; each new member gets the whole group at once.
    await announce(ctx, before, jid, me.jid, { type: "add", participants: changed });
    const refreshed = await groups.get(jid);
    if (refreshed) {
      const info = await groupInfo(ctx, refreshed);
      await announce(ctx, changed, jid, me.jid, { type: "create", group: info });
    }
  } else {
    // Removed members hear of their removal too: `before` still holds them.
    await announce(ctx, before, jid, me.jid, { type: op, participants: changed });
  }
  if (op === "remove" || op === "demote") await afterDeparture(ctx, jid);
  return results;
}
