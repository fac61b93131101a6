/**
 * safety-number, confirm-identity (a contact's identity key) and receipts (whether the user
 * sends read receipts). Made per bridge, since they work on the core's guard and receipts.
 */
import type { Login } from "../../db/repositories/index.js";
import { UserFacingError, asUserFacing } from "../errors.js";
import type { CommandHint, IdentityGuard } from "../identity-guard.js";
import type { RemoteContact } from "../network.js";
import type { ReadReceipts } from "../read-receipts.js";
import { enlistedLogin, phoneArgument } from "./arguments.js";
import type { ParsedCommand } from "./parser.js";
import type { Command, CommandContext, CommandEnv } from "./types.js";

/** The contact of this portal, or (with an argument) the one behind a phone number. */
async function contactOf(
  command: ParsedCommand,
  ctx: CommandContext,
  env: CommandEnv,
  login: Login,
): Promise<string> {
  const portal = ctx.portal?.loginId === login.id ? ctx.portal : undefined;
  if (command.rest === "" && portal) return portal.contactJid;
  // A contact's Matrix user (as group rooms name members whose number is not known).
  if (command.rest.startsWith("@")) {
    const puppet = await env.repos.puppets.getByMxid(command.rest.trim());
    if (puppet) return puppet.jid;
  }
  const phone = phoneArgument(
    command,
    "the phone number of the contact, or their Matrix user (or send it in your chat with " +
      "them without one)",
  );
  let found: RemoteContact | null;
  try {
    found = await env.network.lookup(login.id, phone);
  } catch (err) {
    throw asUserFacing(err, `Could not look up ${phone}`);
  }
  if (!found) {
    throw new UserFacingError(
      "not-found",
      `${phone} cannot be reached on ${env.network.capabilities.networkName}.`,
    );
  }
  return found.id;
}

function hintFor(ctx: CommandContext, env: CommandEnv): CommandHint {
  return (name) => (ctx.inManagementRoom ? `\`${name}\`` : `\`${env.commandPrefix} ${name}\``);
}

export function securityCommands(guard: IdentityGuard): Command[] {
  return [
    {
      name: "safety-number",
      usage: "safety-number <phone or their Matrix user>",
      summary: "the safety number to compare with a contact (in their chat: just `safety-number`)",
      async run(command, ctx, env) {
        const login = await enlistedLogin(env, ctx.sender);
        const contact = await contactOf(command, ctx, env, login);
        await ctx.reply(await guard.describe(login, contact, hintFor(ctx, env)));
      },
    },
    {
      name: "confirm-identity",
      usage: "confirm-identity <phone or their Matrix user>",
      summary: "accept a contact's new security code (held messages are sent)",
      async run(command, ctx, env) {
        const login = await enlistedLogin(env, ctx.sender);
        const contact = await contactOf(command, ctx, env, login);
        await ctx.reply(await guard.confirm(login, contact));
      },
    },
  ];
}

export function receiptsCommand(receipts: ReadReceipts): Command {
  return {
    name: "receipts",
    usage: "receipts on|off",
    summary: "whether your contacts see when you read their messages (default on)",
    async run(command, ctx) {
      const choice = command.args[0]?.toLowerCase();
      if (
        command.args.length > 1 ||
        (choice !== undefined && choice !== "on" && choice !== "off")
      ) {
        throw new UserFacingError(
          "bad-argument",
          "Send `receipts on` or `receipts off` (or just `receipts` to see the setting).",
        );
      }
      if (choice === undefined) {
        const on = await receipts.enabled(ctx.sender);
        await ctx.reply(
          on
            ? "Read receipts are on: your contacts see when you have read their messages."
            : "Read receipts are off: your contacts do not see when you have read their messages.",
        );
        return;
      }
      await receipts.setEnabled(ctx.sender, choice === "on");
      await ctx.reply(
        choice === "on"
          ? "Read receipts are on: your contacts see when you have read their messages, and you see when they have read yours."
          : "Read receipts are off: your contacts no longer see when you have read their messages (and, as in their own app, you no longer see when they have read yours).",
      );
    },
  };
}
