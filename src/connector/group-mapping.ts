/**
 * GKI/1 groups (docs/protocol.md §19) as the core sees them: a group's info, its changes, and
 * why a member could not be added, removed, promoted or demoted (§19.3), in words.
 */
import type {
  GroupMemberOp,
  RemoteGroupChange,
  RemoteGroupInfo,
  RemoteParticipantFailure,
} from "../core/network.js";
import type { GroupChangeEvent, GroupParticipantResult } from "../gatekeeper/client/index.js";
import type { GroupInfo } from "../gatekeeper/stanza/index.js";

export function toRemoteGroupInfo(info: GroupInfo): RemoteGroupInfo {
  return {
    id: info.jid,
    subject: info.subject,
    ...(info.description === undefined ? {} : { description: info.description.text }),
    participants: info.participants.map((p) => ({ id: p.jid, role: p.role })),
    ...(info.pictureId === undefined ? {} : { pictureId: info.pictureId }),
  };
}

export function toRemoteGroupChange(event: GroupChangeEvent): RemoteGroupChange {
  const { change, actor } = event;
  const groupId = event.group;
  switch (change.type) {
    case "create":
      return { kind: "joined", group: toRemoteGroupInfo(change.group), actor };
    case "subject":
      return { kind: "subject", groupId, actor, subject: change.subject };
    case "description":
      return {
        kind: "description",
        groupId,
        actor,
        description: "deleted" in change ? null : change.text,
      };
    case "picture":
      return { kind: "picture", groupId, actor, pictureId: "deleted" in change ? null : change.id };
    default:
      return {
        kind: "members",
        groupId,
        actor,
        op: change.type,
        participants: change.participants,
      };
  }
}

/** The participants a request failed for, each with the reason (§19.3's per-participant errors). */
export function participantFailures(
  results: GroupParticipantResult[],
  op: GroupMemberOp | "create",
): RemoteParticipantFailure[] {
  return results.flatMap((r) =>
    r.error === undefined ? [] : [{ id: r.jid, reason: failureReason(r, op) }],
  );
}

function failureReason(r: GroupParticipantResult, op: GroupMemberOp | "create"): string {
  switch (r.error) {
    case 403:
      return r.text === "superadmin"
        ? "they created the group (only they can step down or leave)"
        : "they do not allow being added to groups by you";
    case 404:
      return "they cannot be reached on Gatekeeper";
    case 406:
      return "their app does not take part in groups";
    case 409:
      return op === "add" || op === "create"
        ? "they are already a member"
        : "they are not a member";
    case 429:
      return "the group is full";
    default:
      return `Gatekeeper refused it (${r.error ?? "?"}${r.text ? ` ${r.text}` : ""})`;
  }
}
