/** The chat's `/group …` and `/groups` commands, as typed (docs/protocol.md §19). */
import type { MembershipOp } from "../../gatekeeper/stanza/index.js";
import { takeWord } from "./words.js";

/** A member as typed: a phone number (looked up first) or a JID. */
export type MemberRef = string;

export type GroupCommand =
  | { op: "list" }
  | { op: "create"; subject: string; members: MemberRef[] }
  /** On the current group. */
  | { op: MembershipOp; members: MemberRef[] }
  | { op: "subject"; subject: string }
  /** null deletes the description. */
  | { op: "description"; text: string | null }
  | { op: "leave" }
  | { op: "info" }
  /** Make a group the current conversation: its JID, its number in /groups, or its subject. */
  | { op: "pick"; ref: string };

export type GroupParse = GroupCommand | { invalid: string };

const E164_RE = /^\+\d{8,15}$/;

export const GROUP_USAGE = {
  group:
    "usage: /group create|add|remove|promote|demote|subject|description|leave|info, or /group JID|NUMBER|SUBJECT to pick one",
  create: 'usage: /group create "Subject" +4917… [+49…|JID …]',
  membership: (op: MembershipOp) => `usage: /group ${op} +4917…|JID [more]`,
  subject: "usage: /group subject New subject",
  description: "usage: /group description TEXT, or /group description - to delete it",
  bare: (op: string) => `usage: /group ${op} (it takes nothing more)`,
} as const;

/** `rest`: the line after `/group`, trimmed. */
export function parseGroupCommand(rest: string): GroupParse {
  const [first = "", tail] = takeWord(rest);
  // A quoted word is a subject, even "Info": /group "Info" picks the group of that name.
  const quoted = rest.startsWith('"') || rest.startsWith("'");
  const op = quoted ? "" : first.toLowerCase();
  switch (op) {
    case "":
      if (!quoted) return { invalid: GROUP_USAGE.group };
      break;
    case "list":
      return tail === "" ? { op: "list" } : { invalid: GROUP_USAGE.bare("list") };
    case "create": {
      const [subject, more] = takeWord(tail);
      if (subject === undefined || subject.trim() === "") return { invalid: GROUP_USAGE.create };
      const members = memberRefs(more);
      if (typeof members === "string") return { invalid: members };
      if (members.length === 0) return { invalid: GROUP_USAGE.create };
      return { op: "create", subject, members };
    }
    case "add":
    case "remove":
    case "promote":
    case "demote": {
      const members = memberRefs(tail);
      if (typeof members === "string") return { invalid: members };
      if (members.length === 0) return { invalid: GROUP_USAGE.membership(op) };
      return { op, members };
    }
    case "subject":
      return tail === "" ? { invalid: GROUP_USAGE.subject } : { op: "subject", subject: tail };
    case "description":
      if (tail === "") return { invalid: GROUP_USAGE.description };
      return { op: "description", text: tail === "-" ? null : tail };
    case "leave":
    case "info":
      return tail === "" ? { op } : { invalid: GROUP_USAGE.bare(op) };
  }
  const ref = groupRef(rest);
  return ref === undefined ? { invalid: GROUP_USAGE.group } : { op: "pick", ref };
}

/** A group as typed after /group or /to: a subject may have spaces, "quoted" or not. */
export function groupRef(text: string): string | undefined {
  const ref = text.startsWith('"') || text.startsWith("'") ? takeWord(text)[0] : text;
  return ref === undefined || ref === "" ? undefined : ref;
}

/** Whether a `/to` target names a group by number or subject: neither a phone number nor a JID. */
export function looksLikeGroupRef(target: string): boolean {
  return !E164_RE.test(target) && !target.includes("@");
}

/** The members of a command: each a number or a JID; a line saying what is wrong otherwise. */
function memberRefs(text: string): MemberRef[] | string {
  const refs = text.split(/[\s,]+/).filter((r) => r !== "");
  const bad = refs.find((r) => !E164_RE.test(r) && !r.includes("@"));
  if (bad !== undefined) {
    return `${bad} is neither a number (+4917012345678) nor a JID (…@lid.gk)`;
  }
  return refs;
}
