import {
  type GroupCommand,
  groupRef,
  looksLikeGroupRef,
  parseGroupCommand,
} from "./group-commands.js";
import { parseIdRef } from "./ids.js";
import { takeWord } from "./words.js";

export { takeWord };

/** The chat CLI's input language: a line is either a command (`/…`) or text for the current peer. */
export type ChatCommand =
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "lookup"; phones: string[] }
  /** Talk to a JID, to the JID a phone number resolves to, or in a group (JID, number, subject). */
  | { kind: "to"; target: string }
  /** `/group …` and `/groups` (docs/protocol.md §19). */
  | { kind: "group"; group: GroupCommand }
  | { kind: "optin"; partners: string[] | "*" }
  | { kind: "optout" }
  | { kind: "block"; jid: string }
  | { kind: "unblock"; jid: string }
  | { kind: "blocklist" }
  | { kind: "typing" }
  | { kind: "presence"; type: "available" | "unavailable" }
  | { kind: "safety"; jid?: string }
  | { kind: "text"; text: string }
  /** A file: image, video and audio as such, anything else as a document. */
  | { kind: "send"; path: string; caption?: string }
  | { kind: "voice"; path: string }
  /** `id`: a full message id or its end, as parseIdRef gives it. */
  | { kind: "reply"; id: string; text: string }
  | { kind: "edit"; id: string; text: string }
  /** The empty emoji removes our reaction. */
  | { kind: "react"; id: string; emoji: string }
  | { kind: "delete"; id: string }
  | { kind: "empty" }
  | { kind: "invalid"; message: string };

export const HELP = `Commands:
  /to +4917… | JID          chat with a contact (a number is looked up first), or in a
                            group: /to GROUPJID, or its number or subject as /groups shows
  /lookup +4917… [+49…]     look numbers up in the directory
  /optin [partner,…|*]      allow interop (default: all partners); /optout to stop
  /block JID, /unblock JID, /blocklist
  /typing                   tell the current contact you are typing
  /online, /offline         set your presence
  /safety [JID]             show the safety number with a contact
  /send PATH [caption]      send a file: images, videos and audio as such, anything else
                            as a document (up to 100 MiB; "quote" a PATH with spaces)
  /voice PATH               send an audio file (best Ogg/Opus) as a voice message
  /reply ID text            reply to a message
  /edit ID text             change the text (or caption) of a message you sent
  /react ID EMOJI           react to a message; /react ID alone removes your reaction
  /delete ID                delete a message you sent, for everyone
Groups:
  /groups                   list your groups, numbered
  /group GROUPJID|N|SUBJECT make a group the current conversation (as /to)
  /group create "Subject" +4917…|JID [more]
                            create a group with you as its admin, and chat in it
  /group add|remove|promote|demote +4917…|JID [more]
                            change the current group's members or admins (admins only)
  /group subject TEXT       rename the current group (admins only)
  /group description TEXT   set its description; "/group description -" deletes it
  /group info               its subject, description and members with their roles
  /group leave              leave the current group
  /quit
ID: the #A1B2C3 a message's line shows (or the full id), of a message in the current chat.
Anything else is sent as a text message to the current contact or group; in a group, text,
files, /reply, /react, /edit and /delete go to the group.`;

const E164_RE = /^\+\d{8,15}$/;

type MessageCommandName = "send" | "voice" | "reply" | "edit" | "react" | "delete";

const USAGE: Readonly<Record<MessageCommandName, string>> = {
  send: 'usage: /send PATH [caption] (put a PATH with spaces in "quotes")',
  voice: "usage: /voice PATH (a voice message has no caption)",
  reply: "usage: /reply ID text",
  edit: "usage: /edit ID new text",
  react: "usage: /react ID EMOJI, or /react ID to remove your reaction",
  delete: "usage: /delete ID",
};

export function parseCommand(line: string): ChatCommand {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  if (!trimmed.startsWith("/")) return { kind: "text", text: line };
  const [name = "", ...args] = trimmed.slice(1).split(/\s+/);
  const arg = args[0];
  const command = name.toLowerCase();
  switch (command) {
    case "help":
    case "?":
      return { kind: "help" };
    case "quit":
    case "exit":
      return { kind: "quit" };
    case "lookup": {
      if (args.length === 0 || !args.every((a) => E164_RE.test(a))) {
        return { kind: "invalid", message: "usage: /lookup +4917012345678 [more numbers]" };
      }
      return { kind: "lookup", phones: args };
    }
    case "to": {
      if (arg === undefined) {
        return { kind: "invalid", message: "usage: /to +4917012345678, /to JID or /to GROUP" };
      }
      // A group's subject may have spaces; a number or a JID is one word.
      const rest = trimmed.slice(1 + name.length).trim();
      return { kind: "to", target: looksLikeGroupRef(arg) ? (groupRef(rest) ?? arg) : arg };
    }
    case "groups":
      return args.length === 0
        ? { kind: "group", group: { op: "list" } }
        : { kind: "invalid", message: "usage: /groups" };
    case "group": {
      const parsed = parseGroupCommand(trimmed.slice(1 + name.length).trim());
      return "invalid" in parsed
        ? { kind: "invalid", message: parsed.invalid }
        : { kind: "group", group: parsed };
    }
    case "optin":
      return {
        kind: "optin",
        partners: arg === undefined || arg === "*" ? "*" : arg.split(",").filter((p) => p !== ""),
      };
    case "optout":
      return { kind: "optout" };
    case "block":
      return arg === undefined
        ? { kind: "invalid", message: "usage: /block JID" }
        : { kind: "block", jid: arg };
    case "unblock":
      return arg === undefined
        ? { kind: "invalid", message: "usage: /unblock JID" }
        : { kind: "unblock", jid: arg };
    case "blocklist":
      return { kind: "blocklist" };
    case "typing":
      return { kind: "typing" };
    case "online":
      return { kind: "presence", type: "available" };
    case "offline":
      return { kind: "presence", type: "unavailable" };
    case "safety":
      return arg === undefined ? { kind: "safety" } : { kind: "safety", jid: arg };
    case "send":
    case "voice":
    case "reply":
    case "edit":
    case "react":
    case "delete":
      return parseMessageCommand(command, trimmed.slice(1 + name.length).trim());
    default:
      return { kind: "invalid", message: `unknown command /${name}; /help lists them` };
  }
}

/** The commands about files and messages: `rest` is the line after the command's name. */
function parseMessageCommand(name: MessageCommandName, rest: string): ChatCommand {
  const usage: ChatCommand = { kind: "invalid", message: USAGE[name] };
  const [first, tail] = takeWord(rest);
  if (first === undefined || first === "") return usage;
  if (name === "send")
    return tail === ""
      ? { kind: "send", path: first }
      : { kind: "send", path: first, caption: tail };
  if (name === "voice") return tail === "" ? { kind: "voice", path: first } : usage;
  const id = parseIdRef(first);
  if (id === undefined) {
    return {
      kind: "invalid",
      message: `${first} is not a message id: give the #A1B2C3 a message's line shows, or its full id`,
    };
  }
  switch (name) {
    case "reply":
    case "edit":
      return tail === "" ? usage : { kind: name, id, text: tail };
    case "react":
      return /\s/.test(tail) ? usage : { kind: "react", id, emoji: tail };
    default:
      return tail === "" ? { kind: "delete", id } : usage;
  }
}

export function isPhone(s: string): boolean {
  return E164_RE.test(s);
}
