/** What the `/group …` and `/groups` commands do, on the client's group API (docs/protocol.md §19). */
import { GatekeeperError } from "../../gatekeeper/client/index.js";
import type { GroupParticipantResult } from "../../gatekeeper/client/index.js";
import { isGroupJid } from "../../gatekeeper/stanza/index.js";
import type { MembershipOp } from "../../gatekeeper/stanza/index.js";
import type { RunContext } from "./actions.js";
import { ChatError } from "./chat-error.js";
import { isPhone } from "./commands.js";
import type { GroupCommand, MemberRef } from "./group-commands.js";
import {
  groupInfoLines,
  groupListLine,
  list,
  namesFor,
  participantFailure,
} from "./group-render.js";
import type { Names } from "./group-render.js";

const PAST: Readonly<Record<MembershipOp, string>> = {
  add: "added",
  remove: "removed",
  promote: "made admin",
  demote: "made no longer admin",
};

/**
 * Runs a group command. Answers the new current conversation: a JID, null when there is none
 * any more (we left it), undefined when it stays.
 */
export async function runGroup(
  command: GroupCommand,
  ctx: RunContext,
): Promise<string | null | undefined> {
  const { client, say, groups } = ctx;
  switch (command.op) {
    case "list": {
      const infos = await client.groups.list();
      groups.listed(infos);
      if (infos.length === 0)
        say('  you are in no group: /group create "Subject" +4917… starts one');
      infos.forEach((info, i) => say(groupListLine(i + 1, info, info.jid === ctx.peer)));
      return undefined;
    }
    case "pick":
      return chooseGroup(command.ref, ctx);
    case "create":
      return create(command.subject, command.members, ctx);
    case "add":
    case "remove":
    case "promote":
    case "demote": {
      const group = currentGroup(ctx);
      const jids = await membersOf(command.members, ctx);
      const results = await groupCall(ctx, group, () => client.groups[command.op](group, jids));
      reportResults(command.op, results, ctx);
      return undefined;
    }
    case "subject": {
      const group = currentGroup(ctx);
      await groupCall(ctx, group, () => client.groups.setSubject(group, command.subject));
      return undefined;
    }
    case "description": {
      const group = currentGroup(ctx);
      await groupCall(ctx, group, () => client.groups.setDescription(group, command.text));
      return undefined;
    }
    case "info": {
      const group = currentGroup(ctx);
      const info = await groupCall(ctx, group, () => client.groups.info(group));
      groups.remember(info);
      for (const line of groupInfoLines(info, namesOf(ctx).name)) say(line);
      return undefined;
    }
    case "leave": {
      const group = currentGroup(ctx);
      await groupCall(ctx, group, () => client.groups.leave(group));
      say(`  you left ${groups.label(group)}`);
      return null;
    }
  }
}

/** `/to GROUP` and `/group GROUP`: its JID, its number in /groups, or (part of) its subject. */
export async function chooseGroup(ref: string, ctx: RunContext): Promise<string> {
  const { client, groups } = ctx;
  let jid = isGroupJid(ref) ? ref : groups.find(ref);
  if (jid === undefined) {
    // Not among the groups this session has seen: ask for all of ours once (numbered as
    // /groups would show them).
    groups.listed(await client.groups.list());
    jid = groups.find(ref);
  }
  if (jid === undefined) {
    throw new ChatError(
      "unknown-group",
      `you are in no group "${ref}": /groups lists yours, numbered`,
    );
  }
  const group = jid;
  const info = await groupCall(ctx, group, () => client.groups.info(group));
  groups.remember(info);
  ctx.say(`  now chatting in ${groups.label(group)} (${info.participants.length} members)`);
  return group;
}

async function create(subject: string, refs: MemberRef[], ctx: RunContext): Promise<string> {
  const jids = await membersOf(refs, ctx);
  const { group, results } = await groupCall(ctx, undefined, () =>
    ctx.client.groups.create(subject, jids),
  );
  ctx.groups.remember(group);
  const failed = results.filter((r) => r.error !== undefined);
  const { name } = namesOf(ctx);
  const added = group.participants.filter((p) => p.jid !== ctx.ownJid).map((p) => name(p.jid));
  ctx.say(
    `  created ${ctx.groups.label(group.jid)} (${group.jid})${added.length > 0 ? ` with ${list(added)}` : " with nobody else yet"}; now chatting in it`,
  );
  for (const r of failed) ctx.say(`  ! not added: ${participantFailure("create", r, name)}`);
  return group.jid;
}

/** The JIDs of typed members: numbers are looked up (at once); one that nobody has stops the command. */
async function membersOf(refs: MemberRef[], ctx: RunContext): Promise<string[]> {
  const phones = refs.filter(isPhone);
  const found = new Map<string, string>();
  if (phones.length > 0) {
    const unknown: string[] = [];
    for (const entry of await ctx.client.lookup(phones)) {
      if (entry.jid === undefined) {
        unknown.push(entry.phone);
        continue;
      }
      found.set(entry.phone, entry.jid);
      if (!ctx.names.has(entry.jid)) ctx.names.set(entry.jid, entry.name ?? entry.phone);
    }
    if (unknown.length > 0) {
      throw new ChatError(
        "unknown-number",
        `${list(unknown)} ${unknown.length === 1 ? "is" : "are"} not reachable (unknown, or not allowing you): nothing done`,
      );
    }
  }
  return refs.map((r) => found.get(r) ?? r);
}

/** Only what failed: what was done is shown when the gatekeeper's notification of it comes. */
function reportResults(op: MembershipOp, results: GroupParticipantResult[], ctx: RunContext): void {
  const { name } = namesOf(ctx);
  for (const r of results) {
    if (r.error !== undefined) ctx.say(`  ! not ${PAST[op]}: ${participantFailure(op, r, name)}`);
  }
}

function currentGroup(ctx: RunContext): string {
  if (ctx.peer === undefined || !isGroupJid(ctx.peer)) {
    throw new ChatError(
      "no-group",
      `no current group${ctx.peer === undefined ? "" : ` (you are chatting with ${ctx.names.get(ctx.peer) ?? ctx.peer})`}: /groups, then /group N or /to GROUPJID`,
    );
  }
  return ctx.peer;
}

function namesOf(ctx: RunContext): Names {
  return namesFor(ctx.ownJid, ctx.names);
}

/**
 * A group request, its refusal made one line a user can act on (docs §19.3's whole-request
 * errors). `group`: the group it is about, for the line; undefined for a create.
 */
export async function groupCall<T>(
  ctx: RunContext,
  group: string | undefined,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof GatekeeperError) || err.gkiCode === undefined) throw err;
    throw new ChatError("group-refused", groupRefusal(err, group && ctx.groups.label(group)), {
      cause: err,
    });
  }
}

function groupRefusal(err: GatekeeperError, label: string | undefined): string {
  const where = label ?? "the group";
  switch (err.gkiCode) {
    case 400:
      return label === undefined
        ? "the gatekeeper refused it: a subject has 1 to 100 characters"
        : `the gatekeeper refused it as malformed (${err.message}): a subject has 1 to 100 characters, a description up to 2048`;
    case 403:
      return `you are not an admin of ${where}: ask one (/group info shows them)`;
    case 404:
      return `you are not a member of ${where} (or it does not exist)`;
    case 406:
      return "this account does not take part in groups";
    case 409:
      return `someone changed ${where}'s description meanwhile: try again`;
    case 429:
      return label === undefined
        ? "you created too many groups today (10 per 24 h): try again later"
        : `too many requests: try again${err.retryAfter ? ` in ${err.retryAfter} s` : " later"}`;
    default:
      return `the gatekeeper refused it: ${err.message}`;
  }
}
