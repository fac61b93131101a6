/** groups, group create/add/remove/leave: the user's groups on the network. */
import type { Login } from "../../db/repositories/index.js";
import { UserFacingError, asUserFacing } from "../errors.js";
import type { GroupActions } from "../group-actions.js";
import type { GroupMemberOp, RemoteParticipantFailure } from "../network.js";
import { PHONE_EXAMPLE, parsePhone } from "../phone.js";
import { excerpt } from "../../util/unicode.js";
import { enlistedLogin, roomLink } from "./arguments.js";
import { lookup } from "./chat-commands.js";
import type { Command, CommandContext, CommandEnv } from "./types.js";

const MAX_LISTED = 50;

function groupsOf(env: CommandEnv): GroupActions {
  if (env.groups?.supported) return env.groups;
  throw new UserFacingError(
    "no-groups",
    `Groups are not bridged to ${env.network.capabilities.networkName} by this bridge.`,
  );
}

export const groupsCommand: Command = {
  name: "groups",
  usage: "groups",
  summary: "list your groups and their rooms",
  async run(command, ctx, env) {
    const groups = groupsOf(env);
    const login = await enlistedLogin(env, ctx.sender);
    const list = await groups.list(login).catch((err: unknown) => {
      throw asUserFacing(err, "Could not list your groups");
    });
    if (list.length === 0) {
      await ctx.reply('You are in no groups. Send `group create "Name" <phone> …` to make one.');
      return;
    }
    const lines: string[] = [];
    for (const info of list.slice(0, MAX_LISTED)) {
      const portal = await env.repos.groupPortals.getByGroup(info.id);
      const where = portal?.roomId ? `: ${roomLink(portal.roomId)}` : " (no room yet)";
      lines.push(`- ${info.subject} (${info.participants.length} members)${where}`);
    }
    if (list.length > MAX_LISTED) lines.push(`… and ${list.length - MAX_LISTED} more.`);
    await ctx.reply(`Your groups:\n${lines.join("\n")}`);
  },
};

const USAGE =
  'group create "Name" <phone> …, group add|remove|promote|demote ["Name"] <phone> …, or group leave [name]';

export const groupCommand: Command = {
  name: "group",
  usage:
    'group create "Name" <phone> … | group add|remove|promote|demote ["Name"] <phone> … | ' +
    "group leave [name]",
  summary:
    "make a group with these people, add, remove, promote or demote members (admins), or " +
    "leave one (in the group's room, leave out its name)",
  async run(command, ctx, env) {
    const [sub = ""] = command.args;
    const rest = command.rest.slice(sub.length).trim();
    switch (sub.toLowerCase()) {
      case "create":
        return create(rest, ctx, env);
      case "add":
      case "remove":
      case "promote":
      case "demote":
        return changeMembers(sub.toLowerCase() as GroupMemberOp, rest, ctx, env);
      case "leave":
        return leave(rest, ctx, env);
      default:
        throw new UserFacingError("bad-argument", `Write it as \`${USAGE}\`.`);
    }
  },
};

async function create(rest: string, ctx: CommandContext, env: CommandEnv): Promise<void> {
  const groups = groupsOf(env);
  const login = await enlistedLogin(env, ctx.sender);
  const { name, numbers } = splitNameAndNumbers(rest);
  if (name === "") {
    throw new UserFacingError(
      "bad-argument",
      `\`group create\` needs the group's name and the members' numbers: \`group create "Weekend trip" ${PHONE_EXAMPLE}\`.`,
    );
  }
  const found = await contactsOf(numbers, login, env);
  const { open, failed } = await groups.create(login, name, found.ids).catch((err: unknown) => {
    throw asUserFacing(err, "Could not create the group");
  });
  const notAdded = [...found.notFound, ...failures(failed, found.phoneOf)];
  const lines = [`Created the group "${name}"; you have been invited: ${roomLink(open.roomId)}`];
  if (notAdded.length > 0) lines.push("Not added:", ...notAdded.map((l) => `- ${l}`));
  await ctx.reply(lines.join("\n"));
}

/**
 * `group add|remove|promote|demote <phone> …` in the group's room, or with `"Name"` first
 * anywhere. The gatekeeper decides (admins only); the room follows its announcement.
 */
async function changeMembers(
  op: GroupMemberOp,
  rest: string,
  ctx: CommandContext,
  env: CommandEnv,
): Promise<void> {
  const groups = groupsOf(env);
  const login = await enlistedLogin(env, ctx.sender);
  const here = await env.repos.groupPortals.getByRoom(ctx.roomId);
  const named = /^["“”„']/.test(rest) || !here ? splitNameAndNumbers(rest) : undefined;
  const numbers = named ? named.numbers : splitNumbers(rest);
  if (numbers.length === 0 || named?.name === "") {
    throw new UserFacingError(
      "bad-argument",
      `Write it as \`group ${op} ${PHONE_EXAMPLE}\` in the group's room, or ` +
        `\`group ${op} "Group name" ${PHONE_EXAMPLE}\` elsewhere.`,
    );
  }
  const group = named ? await byName(groups, login, named.name) : { id: here!.groupJid };
  const found = await contactsOf(numbers, login, env);
  const failed =
    found.ids.length === 0
      ? []
      : await groups.changeMembers(login, group.id, op, found.ids).catch((err: unknown) => {
          throw asUserFacing(err, `Could not ${op} members`);
        });
  const notDone = [...found.notFound, ...failures(failed, found.phoneOf)];
  const failedIds = new Set(failed.map((f) => f.id));
  const done = found.ids.filter((id) => !failedIds.has(id)).map((id) => found.phoneOf.get(id));
  const lines: string[] = [];
  const [did, notDid] = DONE[op];
  if (done.length > 0) lines.push(`${did}: ${done.join(", ")}.`);
  if (notDone.length > 0) lines.push(`${notDid}:`, ...notDone.map((l) => `- ${l}`));
  await ctx.reply(lines.join("\n"));
}

const DONE: Record<GroupMemberOp, [string, string]> = {
  add: ["Added", "Not added"],
  remove: ["Removed", "Not removed"],
  promote: ["Made admin", "Not made admin"],
  demote: ["No longer admin", "Not changed"],
};

/** The numbers' contacts on the network; those that cannot be found, each with why. */
async function contactsOf(
  numbers: string[],
  login: Login,
  env: CommandEnv,
): Promise<{ ids: string[]; phoneOf: Map<string, string>; notFound: string[] }> {
  const ids: string[] = [];
  const phoneOf = new Map<string, string>();
  const notFound: string[] = [];
  for (const raw of numbers) {
    const parsed = parsePhone(raw);
    if (!parsed.ok) {
      notFound.push(`${excerpt(raw)}: ${parsed.message}`);
      continue;
    }
    try {
      const contact = await lookup(env, login, parsed.e164);
      if (!phoneOf.has(contact.id)) ids.push(contact.id);
      phoneOf.set(contact.id, parsed.e164);
    } catch (err) {
      if (!(err instanceof UserFacingError)) throw err;
      notFound.push(`${parsed.e164}: ${err.userMessage}`);
    }
  }
  return { ids, phoneOf, notFound };
}

function failures(failed: RemoteParticipantFailure[], phoneOf: Map<string, string>): string[] {
  return failed.map((f) => `${phoneOf.get(f.id) ?? f.id}: ${f.reason}.`);
}

async function leave(rest: string, ctx: CommandContext, env: CommandEnv): Promise<void> {
  const groups = groupsOf(env);
  const login = await enlistedLogin(env, ctx.sender);
  const here = await env.repos.groupPortals.getByRoom(ctx.roomId);
  let groupId: string;
  let label: string;
  if (rest === "" && here) {
    groupId = here.groupJid;
    label = "this group";
  } else if (rest !== "") {
    const found = await byName(groups, login, unquote(rest));
    groupId = found.id;
    label = `"${found.subject}"`;
  } else {
    throw new UserFacingError(
      "bad-argument",
      "`group leave` needs the group's name (or send it in the group's room without one).",
    );
  }
  await groups.leave(login, groupId).catch((err: unknown) => {
    throw asUserFacing(err, "Could not leave the group");
  });
  await ctx.reply(`You left ${label}.`);
  const portal =
    here?.groupJid === groupId ? here : await env.repos.groupPortals.getByGroup(groupId);
  if (portal?.roomId) await groups.removeFromRoom(portal.roomId, login, "You left the group");
}

async function byName(groups: GroupActions, login: Login, name: string) {
  const list = await groups.list(login).catch((err: unknown) => {
    throw asUserFacing(err, "Could not list your groups");
  });
  const matches = list.filter((g) => g.subject.toLowerCase() === name.toLowerCase());
  if (matches.length === 1) return matches[0]!;
  throw new UserFacingError(
    matches.length === 0 ? "not-found" : "ambiguous",
    matches.length === 0
      ? `You are in no group named "${excerpt(name)}". Send \`groups\` to see yours.`
      : `You are in ${matches.length} groups named "${excerpt(name)}": send the command in the room of the one you mean.`,
  );
}

/**
 * `"Name with spaces" +49 151 … +33 6 …`: the name (quoted, or one word; "" if none), then
 * the numbers.
 */
function splitNameAndNumbers(rest: string): { name: string; numbers: string[] } {
  const quoted = /^["“”„']([^"“”„']+)["“”„']\s*([\s\S]*)$/.exec(rest);
  const first = rest.split(/\s+/)[0] ?? "";
  const [name, tail] = quoted ? [quoted[1]!.trim(), quoted[2]!] : [first, rest.slice(first.length)];
  return { name, numbers: splitNumbers(tail) };
}

/** Numbers, each starting with + or 00 (a number may be written with spaces). */
function splitNumbers(text: string): string[] {
  const numbers: string[] = [];
  for (const token of text
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "")) {
    if (numbers.length === 0 || /^(\+|00)/.test(token)) numbers.push(token);
    else numbers[numbers.length - 1] += ` ${token}`;
  }
  return numbers;
}

function unquote(text: string): string {
  const m = /^["“”„'](.*)["“”„']$/.exec(text.trim());
  return (m ? m[1]! : text).trim();
}
