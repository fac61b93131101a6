/** login, verify, logout, status, ping: the user's own account with the remote network. */
import { UserFacingError } from "../errors.js";
import { noArguments, phoneArgument } from "./arguments.js";
import type { Command, CommandEnv } from "./types.js";

const name = (env: CommandEnv): string => env.network.capabilities.networkName;

export const loginCommand: Command = {
  name: "login",
  usage: "login <phone>",
  summary: "link your phone number; a one-time code is sent to it",
  async run(command, ctx, env) {
    const phone = phoneArgument(command, "your phone number");
    const { codeLength, expiresInSeconds } = await env.logins.begin(ctx.sender, phone);
    const minutes = Math.max(1, Math.round(expiresInSeconds / 60));
    await ctx.reply(
      `${name(env)} sent a ${codeLength}-digit code to ${phone} (by SMS or in the app). ` +
        `It is valid for ${minutes} minutes. Send \`verify <code>\` here.`,
    );
  },
};

export const verifyCommand: Command = {
  name: "verify",
  usage: "verify <code>",
  summary: "finish logging in with the code sent to your phone",
  async run(command, ctx, env) {
    const code = command.rest.replace(/[\s-]/g, "");
    if (!/^\d{4,10}$/.test(code)) {
      throw new UserFacingError(
        "bad-argument",
        command.rest === ""
          ? "`verify` needs the code sent to your phone, e.g. `verify 123456`."
          : "The code is the digits sent to your phone and nothing else, e.g. `verify 123456`.",
      );
    }
    const login = await env.logins.verify(ctx.sender, code);
    await ctx.reply(
      `You are logged in to ${name(env)} as ${login.phone}. ` +
        `Send \`start <phone>\` to chat with someone there.`,
    );
  },
};

export const logoutCommand: Command = {
  name: "logout",
  usage: "logout",
  summary: "unlink your number, forget its keys and leave your chats",
  async run(command, ctx, env) {
    noArguments(command);
    // Listed first: the gatekeeper takes the number out of its groups as it is removed, and
    // those notifications may come before the rooms are closed.
    const current = await env.repos.logins.getByMxid(ctx.sender);
    const groupPortals =
      current && env.groups?.supported ? await env.repos.groupPortals.listByLogin(current.id) : [];
    let groups = 0;
    const { login, portals } = await env.logins.logout(ctx.sender, async (l) => {
      const all = await env.repos.portals.listByLogin(l.id);
      await env.relayOut.halt(all.map((p) => p.id));
      // Group rooms stay for their other members; the user is taken out of them.
      if (env.groups?.supported) groups = await env.groups.closeAll(l, groupPortals);
      return env.portals.closeAll(l);
    });
    const left = [plural(portals, "chat"), plural(groups, "group")].filter((t) => t !== "");
    await ctx.reply(
      `Logged out. ${name(env)} no longer has ${login.phone} linked to this bridge, the bridge ` +
        `forgot your keys${left.length > 0 ? ` and left your ${left.join(" and ")}` : ""}.`,
    );
  },
};

export const statusCommand: Command = {
  name: "status",
  usage: "status",
  summary: "your number, the connection and your chats",
  async run(command, ctx, env) {
    noArguments(command);
    const login = await env.logins.byUser(ctx.sender);
    if (!login || login.state === "logged-out") {
      const again = login ? ` (your session for ${login.phone} was ended)` : "";
      await ctx.reply(`You are not logged in${again}. Send \`login <phone>\` to start.`);
      return;
    }
    if (login.state === "enlisting") {
      await ctx.reply(`Waiting for the code sent to ${login.phone}: send \`verify <code>\`.`);
      return;
    }
    const portals = await env.repos.portals.listByLogin(login.id);
    const count = (state: string): number => portals.filter((p) => p.state === state).length;
    const connection = env.network.connectionState(login.id);
    await ctx.reply(
      [
        `Logged in to ${name(env)} as ${login.phone}.`,
        `Connection: ${connection}.`,
        `Chats: ${count("active")}, message requests: ${count("request")}, blocked: ${count("blocked")}.`,
      ].join("\n"),
    );
  },
};

export const pingCommand: Command = {
  name: "ping",
  usage: "ping",
  summary: "check that the bridge answers",
  async run(_command, ctx, env) {
    const login = await env.logins.byUser(ctx.sender);
    const connection =
      login && login.state !== "logged-out"
        ? `your ${name(env)} connection is ${env.network.connectionState(login.id)}`
        : "you are not logged in";
    await ctx.reply(`Pong: the bridge is running, ${connection}.`);
  },
};

/** "2 chats", "1 group"; "" for none. */
function plural(n: number, what: string): string {
  return n === 0 ? "" : `${n} ${what}${n === 1 ? "" : "s"}`;
}
