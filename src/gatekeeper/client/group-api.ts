import type { Message } from "../../gen/gki_pb.js";
import type { GroupInfo, GroupPicture } from "../stanza/index.js";
import type { GroupOutbound } from "./group-outbound.js";
import type { GroupDirectory } from "./groups.js";
import type { GroupParticipantResult, ReceiptKind, SendOptions, SendResult } from "./types.js";

/**
 * `client.groups`: the group half of the client (docs/protocol.md §19). Iq failures reject
 * with GatekeeperError carrying the numeric code in `gkiCode`; the client must have been
 * created with `groups: true` (otherwise 406).
 */
export class GroupApi {
  constructor(
    private readonly directory: GroupDirectory,
    private readonly outbound: GroupOutbound,
    private readonly sendsReadReceipts: () => boolean | undefined,
  ) {}

  /** Creates a group with us as superadmin; participants that could not be added say why. */
  create(
    subject: string,
    participants: string[],
  ): Promise<{ group: GroupInfo; results: GroupParticipantResult[] }> {
    return this.directory.create(subject, participants);
  }

  /** A group's current info (404 "not-found" for a group we are not in). */
  info(group: string): Promise<GroupInfo> {
    return this.directory.info(group);
  }

  /** Every group we are in. */
  list(): Promise<GroupInfo[]> {
    return this.directory.participating();
  }

  setSubject(group: string, subject: string): Promise<void> {
    return this.directory.setSubject(group, subject);
  }

  /** Sets the description (null deletes it); resolves with the new description id. */
  setDescription(group: string, text: string | null): Promise<string> {
    return this.directory.setDescription(group, text);
  }

  /** Sets the group picture (JPEG, ≤ 256 KiB); resolves with its id. */
  setPicture(group: string, jpeg: Uint8Array): Promise<string> {
    return this.directory.setPicture(group, jpeg);
  }

  removePicture(group: string): Promise<void> {
    return this.directory.removePicture(group);
  }

  /** The group picture, or null when it has none. */
  picture(group: string): Promise<GroupPicture | null> {
    return this.directory.picture(group);
  }

  add(group: string, jids: string[]): Promise<GroupParticipantResult[]> {
    return this.directory.membership(group, "add", jids);
  }

  /** Removes members; our next send uses a new sender key (docs §19.5 rotation). */
  remove(group: string, jids: string[]): Promise<GroupParticipantResult[]> {
    return this.directory.membership(group, "remove", jids);
  }

  promote(group: string, jids: string[]): Promise<GroupParticipantResult[]> {
    return this.directory.membership(group, "promote", jids);
  }

  demote(group: string, jids: string[]): Promise<GroupParticipantResult[]> {
    return this.directory.membership(group, "demote", jids);
  }

  /** Leaves the group and forgets its sender keys. */
  leave(group: string): Promise<void> {
    return this.directory.leave(group);
  }

  /**
   * Sends to every member (Sender Keys, docs §19.5); resolves once the gatekeeper acked.
   * Waits while disconnected, as sendMessage; a nack rejects (404: not a member).
   */
  send(group: string, content: Message, opts?: SendOptions): Promise<SendResult> {
    return this.outbound.sendGroupMessage(group, content, opts);
  }

  /** A receipt for messages `sender` sent in `group` (docs §19.6); no read receipts when off. */
  async sendReceipt(
    group: string,
    sender: string,
    ids: string[],
    type?: ReceiptKind,
    opts?: { timeoutMs?: number },
  ): Promise<void> {
    if (type === "read" && this.sendsReadReceipts() === false) return;
    await this.outbound.sendGroupReceipt(group, sender, ids, type, opts);
  }
}
