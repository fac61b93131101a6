/** One-line renderings of groups (docs/protocol.md §19): changes, failed participants, info. */
import type { GroupParticipantResult } from "../../gatekeeper/client/index.js";
import type { GroupChange, GroupInfo, MembershipOp } from "../../gatekeeper/stanza/index.js";

/** Who is who in a line: "you" for us, a name where we know one, else the JID. */
export type NameOf = (jid: string) => string;

/** How a line names people: `name`, and which JID is ours. */
export interface Names {
  name: NameOf;
  me: string;
}

/** Names from what the chat learnt (lookups, push names); "you" for `me`. */
export function namesFor(me: string, known: ReadonlyMap<string, string>): Names {
  return { me, name: (jid) => (jid === me ? "you" : (known.get(jid) ?? jid)) };
}

/** The actor of a change the gatekeeper made itself (docs §19.4). */
const GATEKEEPER_ACTOR = "gk";

/**
 * A change of a group, one line: `[Family] Alice added Carol`. `label` is the group as the
 * line shows it, `[Family]`: for a subject change the old subject, for a create the new one.
 */
export function groupChangeLine(
  e: { actor: string; change: GroupChange; offline: boolean },
  label: string,
  names: Names,
): string {
  const away = e.offline ? " (while you were away)" : "";
  return `${label} ${describeChange(e.change, e.actor, names)}${away}`;
}

function describeChange(change: GroupChange, by: string, { name, me }: Names): string {
  const actor = by === GATEKEEPER_ACTOR ? "the gatekeeper" : name(by);
  switch (change.type) {
    case "create": {
      const { group } = change;
      if (by === me) {
        const others = group.participants.filter((p) => p.jid !== me).map((p) => name(p.jid));
        return `you created "${group.subject}"${others.length > 0 ? ` with ${list(others)}` : ""}`;
      }
      return `${actor} added you to "${group.subject}" (${members(group.participants.length)})`;
    }
    case "add":
      return `${actor} added ${list(change.participants.map(name))}`;
    case "remove":
      return `${actor} removed ${list(change.participants.map(name))}`;
    case "leave":
      return `${list(change.participants.map(name))} left`;
    case "promote": {
      const who = change.participants.map(name);
      return `${actor} made ${list(who)} ${who.length === 1 ? "an admin" : "admins"}`;
    }
    case "demote":
      return `${actor} made ${list(change.participants.map(name))} no longer admin`;
    case "subject":
      return `${actor} changed the subject to "${change.subject}"`;
    case "description":
      return "deleted" in change
        ? `${actor} deleted the description`
        : `${actor} changed the description: ${change.text}`;
    case "picture":
      return "deleted" in change
        ? `${actor} removed the group picture`
        : `${actor} changed the group picture`;
  }
}

/**
 * Why a participant of a create or membership change was not done (docs §19.3's
 * per-participant errors): `Carol: not reachable by you (404)`.
 */
export function participantFailure(
  op: MembershipOp | "create",
  r: GroupParticipantResult,
  name: NameOf,
): string {
  return `${name(r.jid)}: ${participantReason(op, r)} (${r.error}${r.text ? ` ${r.text}` : ""})`;
}

function participantReason(op: MembershipOp | "create", r: GroupParticipantResult): string {
  switch (r.error) {
    case 403:
      return r.text === "superadmin"
        ? "the group's creator cannot be removed or demoted by others"
        : r.text === "member-not-opted-in"
          ? "has not allowed interop with the group's partners"
          : "may not be added by you (they have not allowed you)";
    case 404:
      return "unknown, or not reachable by you";
    case 406:
      return "their app does not take part in groups";
    case 409:
      return op === "add" || op === "create" ? "already a member" : "not a member";
    case 429:
      return "the group is full";
    default:
      return "refused";
  }
}

/** `/group info`: the subject, the description and each member with their role. */
export function groupInfoLines(info: GroupInfo, name: NameOf): string[] {
  const lines = [`  "${info.subject}" (${info.jid}), ${members(info.participants.length)}`];
  if (info.description) lines.push(`  description: ${info.description.text}`);
  for (const p of info.participants) {
    lines.push(`    ${name(p.jid)}${p.role === "member" ? "" : ` (${p.role})`}`);
  }
  return lines;
}

/** One line of `/groups`: `  1. "Family" (…@g.gk), 3 members`. */
export function groupListLine(n: number, info: GroupInfo, current: boolean): string {
  const size = info.size ?? info.participants.length;
  return `  ${n}. "${info.subject}" (${info.jid}), ${members(size)}${current ? "  ← current" : ""}`;
}

function members(n: number): string {
  return n === 1 ? "1 member" : `${n} members`;
}

/** "Bob", "Bob and Carol", "Bob, Carol and Dan". */
export function list(names: string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}
