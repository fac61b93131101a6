/**
 * GKI/1 groups (docs/protocol.md §19) as the core sees them: a group's info and its changes.
 */
import type { RemoteGroupChange, RemoteGroupInfo } from "../core/network.js";
import type { GroupChangeEvent } from "../gatekeeper/client/index.js";
import type { GroupInfo } from "../gatekeeper/stanza/index.js";

export function toRemoteGroupInfo(info: GroupInfo): RemoteGroupInfo {
  return {
    id: info.jid,
    subject: info.subject,
    ...(info.description === undefined ? {} : { description: info.description.text }),
    participants: info.participants.map((p) => ({ id: p.jid, role: p.role })),
  };
}

export function toRemoteGroupChange(event: GroupChangeEvent): RemoteGroupChange {
  const { change, actor } = event;
  if (change.type === "create") {
    return { kind: "joined", group: toRemoteGroupInfo(change.group), actor };
  }
  return { kind: "changed", groupId: event.group, actor, what: change.type };
}
