/**
 * login, verify, logout, status, ping: the user's own account with the remote network (and,
 * for bridge admins, `status` of another user's).
 */
import type { LoginState } from "../../db/repositories/index.js";
import { excerpt } from "../../util/unicode.js";
import { UserFacingError } from "../errors.js";
import { noArguments, phoneArgument } from "./arguments.js";
import type { ParsedCommand } from "./parser.js";
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
  usage: "status [@user:server]",
  summary: "your number, the connection and your chats (bridge admins: another user's)",
  async run(command, ctx, env) {
    const user = command.args.length === 0 ? ctx.sender : userArgument(command);
    if (user === ctx.sender) {
      await ctx.reply(await ownStatus(ctx.sender, env));
      return;
    }
    if (env.permission?.(ctx.sender) !== "admin") {
      throw new UserFacingError("not-admin", "Only bridge admins can see another user's status.");
    }
    await ctx.reply(await userStatus(user, env));
  },
};

/**
 * The shape of a Matrix user ID (spec, "User Identifiers": historical localparts included,
 * at most 255 characters). Checked by hand: the core does not depend on a Matrix SDK.
 */
const USER_ID = /^@[!-9;-~]+:([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$/;

function userArgument(command: ParsedCommand): string {
  const user = command.args[0] ?? "";
  if (command.args.length === 1 && user.length <= 255 && USER_ID.test(user)) return user;
  throw new UserFacingError(
    "bad-argument",
    `\`${excerpt(command.rest)}\` is not a Matrix user ID. Send just \`status\` for your own ` +
      `status; bridge admins can write a user's ID, e.g. \`status @alice:example.org\`.`,
  );
}

/** The sender's own status; their connection is normally in this process (it holds the login). */
async function ownStatus(mxid: string, env: CommandEnv): Promise<string> {
  const login = await env.logins.byUser(mxid);
  if (!login || login.state === "logged-out") {
    const again = login ? ` (your session for ${login.phone} was ended)` : "";
    return `You are not logged in${again}. Send \`login <phone>\` to start.`;
  }
  if (login.state === "enlisting") {
    return `Waiting for the code sent to ${login.phone}: send \`verify <code>\`.`;
  }
  const holder = await env.scale?.holder(login.id);
  // Answered by another worker while the login moves: the holder's last word is the database's.
  const elsewhere = holder !== undefined && holder.workerId !== env.scale?.workerId;
  const connection = elsewhere ? login.state : env.network.connectionState(login.id);
  const lines = [
    `Logged in to ${name(env)} as ${login.phone}.`,
    `Connection: ${connection}.`,
    await chatsLine(env, login.id),
  ];
  if (env.scale) lines.push(await workerLine(env.scale, holder, "your"));
  return lines.join("\n");
}

/**
 * Another user's status, for bridge admins: all from the database (their connection may be
 * in another process), and without their phone number.
 */
async function userStatus(user: string, env: CommandEnv): Promise<string> {
  const login = await env.logins.byUser(user);
  if (!login) return `${user} is not logged in (no ${name(env)} login on this bridge).`;
  const lines = [`${user} ${LOGIN_STATES[login.state]}.`, await chatsLine(env, login.id)];
  // A logged-out login is connected nowhere, so no worker holds it.
  if (env.scale && login.state !== "logged-out") {
    lines.push(await workerLine(env.scale, await env.scale.holder(login.id), "their"));
  }
  return lines.join("\n");
}

const LOGIN_STATES: Record<LoginState, string> = {
  connected: "is logged in (connected)",
  disconnected: "is logged in (disconnected)",
  enlisting: "is not logged in yet (enlisting: waiting for the code sent to their phone)",
  "logged-out": "is not logged in (logged-out: their session was ended)",
};

async function chatsLine(env: CommandEnv, loginId: string): Promise<string> {
  const portals = await env.repos.portals.listByLogin(loginId);
  const count = (state: string): number => portals.filter((p) => p.state === state).length;
  return `Chats: ${count("active")}, message requests: ${count("request")}, blocked: ${count("blocked")}.`;
}

async function workerLine(
  scale: NonNullable<CommandEnv["scale"]>,
  holder: { workerId: string } | undefined,
  whose: "your" | "their",
): Promise<string> {
  if (!holder) {
    return (
      `Bridge worker: none holds ${whose} login right now (it is being moved; this takes up ` +
      `to half a minute).`
    );
  }
  // The holder runs, even if its heartbeat has just lapsed.
  const running = Math.max(1, await scale.liveWorkers());
  return `Bridge worker: ${holder.workerId} (one of ${running} running).`;
}

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
