/** start, contacts, block, unblock, accept: the user's chats with remote contacts. */
import type { Login, Portal } from "../../db/repositories/index.js";
import { UserFacingError, asUserFacing } from "../errors.js";
import type { RemoteContact } from "../network.js";
import type { ContactInfo } from "../puppets.js";
import { enlistedLogin, noArguments, phoneArgument, roomLink } from "./arguments.js";
import type { ParsedCommand } from "./parser.js";
import type { Command, CommandContext, CommandEnv } from "./types.js";
import { cleanDisplayName } from "../../util/display-name.js";

const MAX_LISTED = 50;

const name = (env: CommandEnv): string => env.network.capabilities.networkName;

/** The contact behind a number, or a reply saying why there is none. */
export async function lookup(env: CommandEnv, login: Login, phone: string): Promise<RemoteContact> {
  if (phone === login.phone) {
    throw new UserFacingError("own-number", `${phone} is your own number.`);
  }
  let contact: RemoteContact | null;
  try {
    contact = await env.network.lookup(login.id, phone);
  } catch (err) {
    throw asUserFacing(err, `Could not look up ${phone}`);
  }
  if (!contact) {
    throw new UserFacingError(
      "not-found",
      `${phone} cannot be reached on ${name(env)}: the number is not registered there, or its ` +
        `owner does not accept chats from other apps (${name(env)} does not say which).`,
    );
  }
  return contact;
}

/** The portal this command was written in, if it is one of the sender's own. */
function ownPortal(ctx: CommandContext, login: Login): Portal | undefined {
  return ctx.portal && ctx.portal.loginId === login.id ? ctx.portal : undefined;
}

/** For block/unblock: the contact named by a phone number, or this portal's contact. */
async function target(
  command: ParsedCommand,
  ctx: CommandContext,
  env: CommandEnv,
  login: Login,
): Promise<{ contact: ContactInfo; label: string }> {
  const portal = ownPortal(ctx, login);
  if (command.rest === "" && portal)
    return { contact: { id: portal.contactJid }, label: "this contact" };
  const phone = phoneArgument(
    command,
    "the phone number of the person (or send it in their chat without one)",
  );
  const found = await lookup(env, login, phone);
  return {
    contact: { id: found.id, phone, ...(found.name ? { name: found.name } : {}) },
    label: phone,
  };
}

export const startCommand: Command = {
  name: "start",
  usage: "start <phone>",
  summary: "chat with someone on the network (you are invited to the chat)",
  async run(command, ctx, env) {
    const login = await enlistedLogin(env, ctx.sender);
    const phone = phoneArgument(command, "the phone number of the person to chat with");
    const contact = await lookup(env, login, phone);
    const opened = await env.portals
      .openForUser(login, {
        id: contact.id,
        phone,
        ...(contact.name ? { name: contact.name } : {}),
      })
      .catch((err: unknown) => {
        throw asUserFacing(err);
      });
    // The directory's name is the contact's own choice: cleaned like every name shown.
    const shown = cleanDisplayName(contact.name, { networkNames: [name(env)] });
    const who = shown ? `${shown} (${phone})` : phone;
    await ctx.reply(
      opened.created
        ? `Started a chat with ${who}; you have been invited: ${roomLink(opened.roomId)}`
        : `Invited you to your chat with ${who} again: ${roomLink(opened.roomId)}`,
    );
  },
};

export const contactsCommand: Command = {
  name: "contacts",
  usage: "contacts",
  summary: "list your chats",
  async run(command, ctx, env) {
    noArguments(command);
    const login = await enlistedLogin(env, ctx.sender);
    const portals = await env.repos.portals.listByLogin(login.id);
    if (portals.length === 0) {
      await ctx.reply("You have no chats yet. Send `start <phone>` to open one.");
      return;
    }
    const lines: string[] = [];
    for (const portal of portals.slice(0, MAX_LISTED)) {
      const who = (await env.puppets.nameOf(portal.contactJid)) ?? "(name unknown)";
      const state =
        portal.state === "request"
          ? " (message request)"
          : portal.state === "blocked"
            ? " (blocked)"
            : "";
      const where = portal.roomId ? `: ${roomLink(portal.roomId)}` : "";
      lines.push(`- ${who}${state}${where}`);
    }
    if (portals.length > MAX_LISTED) lines.push(`… and ${portals.length - MAX_LISTED} more.`);
    await ctx.reply(`Your chats:\n${lines.join("\n")}`);
  },
};

export const blockCommand: Command = {
  name: "block",
  usage: "block <phone>",
  summary: "block someone (in their chat or a message request: just `block`)",
  async run(command, ctx, env) {
    const login = await enlistedLogin(env, ctx.sender);
    const { contact, label } = await target(command, ctx, env, login);
    await env.portals.block(login, contact).catch((err: unknown) => {
      throw asUserFacing(err, "Could not block");
    });
    const undo = label === "this contact" ? "unblock" : `unblock ${label}`;
    await ctx.reply(
      `Blocked ${label}: they cannot reach you any more. Send \`${undo}\` to undo it.`,
    );
  },
};

export const unblockCommand: Command = {
  name: "unblock",
  usage: "unblock <phone>",
  summary: "unblock someone",
  async run(command, ctx, env) {
    const login = await enlistedLogin(env, ctx.sender);
    const { contact, label } = await target(command, ctx, env, login);
    await env.portals.unblock(login, contact.id).catch((err: unknown) => {
      throw asUserFacing(err, "Could not unblock");
    });
    await ctx.reply(`Unblocked ${label}.`);
  },
};

export const acceptCommand: Command = {
  name: "accept",
  usage: "accept",
  summary: "accept a message request (in its room)",
  async run(command, ctx, env) {
    noArguments(command);
    const login = await enlistedLogin(env, ctx.sender);
    const portal = ownPortal(ctx, login);
    if (!portal) {
      throw new UserFacingError(
        "not-a-request",
        "`accept` answers a message request: send it in the room of the request.",
      );
    }
    if (portal.state !== "request") {
      throw new UserFacingError(
        "not-a-request",
        "This chat is not a message request; there is nothing to accept.",
      );
    }
    await env.portals.accept(portal);
    await ctx.reply("Accepted: this is a normal chat now, and what you send here goes to them.");
  },
};
