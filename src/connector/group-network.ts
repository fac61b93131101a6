/**
 * The group half of RemoteNetwork on GKI/1 (docs/protocol.md §19): a group's info, picture
 * and members, its messages, receipts and typing, each through the login's client.
 * GatekeeperNetwork delegates here; the wire-to-core mapping is ./group-mapping.ts.
 */
import type {
  GroupMemberOp,
  RemoteGroupInfo,
  RemoteParticipantFailure,
  RemotePicture,
  SendResult,
} from "../core/network.js";
import type { BridgeContent } from "../core/content.js";
import type { GatekeeperNetworkOptions } from "./gatekeeper-network.js";
import { participantFailures, toRemoteGroupInfo } from "./group-mapping.js";
import type { LoginClients } from "./login-clients.js";
import { DEFAULT_SEND_TIMEOUT_MS, sendOutgoing } from "./outgoing-message.js";

export class GroupNetwork {
  constructor(
    private readonly clients: LoginClients,
    private readonly o: Pick<GatekeeperNetworkOptions, "media" | "sendTimeoutMs">,
  ) {}

  async sendGroupMessage(
    loginId: string,
    groupId: string,
    messageId: string,
    content: BridgeContent,
  ): Promise<SendResult> {
    return sendOutgoing(
      this.clients,
      this.o,
      { loginId, to: groupId, messageId, group: true },
      content,
      (c, message, options) => c.groups.send(groupId, message, options),
    );
  }

  async groupInfo(loginId: string, groupId: string): Promise<RemoteGroupInfo> {
    return toRemoteGroupInfo(
      await this.clients.call(loginId, "lookup", (c) => c.groups.info(groupId)),
    );
  }

  async groupPicture(loginId: string, groupId: string): Promise<RemotePicture | null> {
    return this.clients.call(loginId, "group", (c) => c.groups.picture(groupId));
  }

  async listGroups(loginId: string): Promise<RemoteGroupInfo[]> {
    const groups = await this.clients.call(loginId, "group", (c) => c.groups.list());
    return groups.map(toRemoteGroupInfo);
  }

  async createGroup(
    loginId: string,
    subject: string,
    participantIds: string[],
  ): Promise<{ group: RemoteGroupInfo; failed: RemoteParticipantFailure[] }> {
    const { group, results } = await this.clients.call(loginId, "group", (c) =>
      c.groups.create(subject, participantIds),
    );
    return { group: toRemoteGroupInfo(group), failed: participantFailures(results, "create") };
  }

  async changeGroupMembers(
    loginId: string,
    groupId: string,
    op: GroupMemberOp,
    participantIds: string[],
  ): Promise<RemoteParticipantFailure[]> {
    const results = await this.clients.call(loginId, "group", (c) =>
      c.groups[op](groupId, participantIds),
    );
    return participantFailures(results, op);
  }

  async setGroupSubject(loginId: string, groupId: string, subject: string): Promise<void> {
    await this.clients.call(loginId, "group", (c) => c.groups.setSubject(groupId, subject));
  }

  async leaveGroup(loginId: string, groupId: string): Promise<void> {
    await this.clients.call(loginId, "group", (c) => c.groups.leave(groupId));
  }

  async sendGroupReadReceipt(
    loginId: string,
    groupId: string,
    senderId: string,
    messageIds: string[],
  ): Promise<void> {
    if (messageIds.length === 0) return;
    await this.clients.call(loginId, "send", (c) =>
      c.groups.sendReceipt(groupId, senderId, messageIds, "read", {
        timeoutMs: this.o.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
      }),
    );
  }

  async sendGroupTyping(
    loginId: string,
    groupId: string,
    state: "composing" | "paused",
  ): Promise<void> {
    await this.clients.call(loginId, "send", (c) => c.sendChatState(groupId, state));
  }
}
