/** The chat CLI's input language: a line is either a command (`/…`) or text for the current peer. */
export type ChatCommand =
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "lookup"; phones: string[] }
  /** Talk to a JID, or to the JID a phone number resolves to. */
  | { kind: "to"; target: string }
  | { kind: "optin"; partners: string[] | "*" }
  | { kind: "optout" }
  | { kind: "block"; jid: string }
  | { kind: "unblock"; jid: string }
  | { kind: "blocklist" }
  | { kind: "typing" }
  | { kind: "presence"; type: "available" | "unavailable" }
  | { kind: "safety"; jid?: string }
  | { kind: "text"; text: string }
  | { kind: "empty" }
  | { kind: "invalid"; message: string };

export const HELP = `Commands:
  /to +4917… | JID          chat with a contact (a number is looked up first)
  /lookup +4917… [+49…]     look numbers up in the directory
  /optin [partner,…|*]      allow interop (default: all partners); /optout to stop
  /block JID, /unblock JID, /blocklist
  /typing                   tell the current contact you are typing
  /online, /offline         set your presence
  /safety [JID]             show the safety number with a contact
  /quit
Anything else is sent as a text message to the current contact.`;

const E164_RE = /^\+\d{8,15}$/;

export function parseCommand(line: string): ChatCommand {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  if (!trimmed.startsWith("/")) return { kind: "text", text: line };
  const [name = "", ...args] = trimmed.slice(1).split(/\s+/);
  const arg = args[0];
  switch (name.toLowerCase()) {
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
    case "to":
      return arg === undefined
        ? { kind: "invalid", message: "usage: /to +4917012345678 or /to JID" }
        : { kind: "to", target: arg };
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
    default:
      return { kind: "invalid", message: `unknown command /${name}; /help lists them` };
  }
}

export function isPhone(s: string): boolean {
  return E164_RE.test(s);
}
