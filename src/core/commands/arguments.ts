/** Argument checks shared by the commands; each failure says what was wrong and how to write it. */
import type { Login } from "../../db/repositories/index.js";
import { UserFacingError } from "../errors.js";
import { isEnlisted } from "../logins.js";
import { PHONE_EXAMPLE, parsePhone } from "../phone.js";
import type { CommandEnv } from "./types.js";
import type { ParsedCommand } from "./parser.js";

/** The E.164 number in the command's arguments. */
export function phoneArgument(command: ParsedCommand, what: string): string {
  const example = `\`${command.name} ${PHONE_EXAMPLE}\``;
  if (command.rest === "") {
    throw new UserFacingError(
      "bad-argument",
      `\`${command.name}\` needs ${what}, in international format: ${example}.`,
    );
  }
  const parsed = parsePhone(command.rest);
  if (!parsed.ok) {
    throw new UserFacingError(
      "bad-argument",
      `That number did not work: ${parsed.message}. Write it in international format, e.g. ${example}.`,
    );
  }
  return parsed.e164;
}

export function noArguments(command: ParsedCommand): void {
  if (command.args.length > 0) {
    throw new UserFacingError(
      "bad-argument",
      `\`${command.name}\` takes no arguments: send just \`${command.name}\`.`,
    );
  }
}

/** The sender's login, which must have been verified. */
export async function enlistedLogin(env: CommandEnv, mxid: string): Promise<Login> {
  const login = await env.logins.byUser(mxid);
  if (login && isEnlisted(login)) return login;
  if (login?.state === "enlisting") {
    throw new UserFacingError(
      "not-logged-in",
      `Your login is not finished: send \`verify <code>\` with the code sent to ${login.phone}.`,
    );
  }
  throw new UserFacingError(
    "not-logged-in",
    `You are not logged in to ${env.network.capabilities.networkName}. Send \`login <your phone number>\` first.`,
  );
}

/** Link to a room for Matrix clients. */
export function roomLink(roomId: string): string {
  return `https://matrix.to/#/${encodeURIComponent(roomId)}`;
}
