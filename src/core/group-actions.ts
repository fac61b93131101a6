/**
 * Matrix → gatekeeper for a group's membership and name (docs/architecture.md, "Groups",
 * steps 4 and 5): a member user who leaves the room leaves the group; an invite or kick of a
 * puppet adds or removes that contact; a rename of the room renames the group. Each goes
 * through the acting user's login, and the gatekeeper decides (admins only, §19.3): what it
 * refuses is undone in the room (the name set back, the puppet's invite withdrawn or the
 * puppet back in) with a notice saying why. Also the group commands' work (`group create`,
 * `group leave`).
 */
import type { GroupPortal, Login, Repositories } from "../db/repositories/index.js";
import type { GroupPortals, JoinedGroup } from "./group-portals.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import { RemoteError } from "./network.js";
import type {
  GroupMemberOp,
  RemoteGroupInfo,
  RemoteNetwork,
  RemoteParticipantFailure,
} from "./network.js";
import type { Puppets } from "./puppets.js";

export interface GroupActionsOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  groups: GroupPortals;
  puppets: Puppets;
  logger: CoreLogger;
  tellUser(mxid: string, text: string): Promise<void>;
}

export class GroupActions {
  constructor(private readonly o: GroupActionsOptions) {}

  /** Whether groups can be made, left and changed from Matrix. */
  get supported(): boolean {
    const n = this.o.network;
    return (
      this.o.groups.supported &&
      n.createGroup !== undefined &&
      n.leaveGroup !== undefined &&
      n.changeGroupMembers !== undefined &&
      n.setGroupSubject !== undefined &&
      n.listGroups !== undefined
    );
  }

  /** The groups the login is in (for `groups`). */
  list(login: Login): Promise<RemoteGroupInfo[]> {
    return this.o.network.listGroups!(login.id);
  }

  /** Creates a group through the login; its room is made at once. */
  async create(
    login: Login,
    subject: string,
    participantIds: string[],
  ): Promise<{ open: JoinedGroup; failed: RemoteParticipantFailure[] }> {
    const { group, failed } = await this.o.network.createGroup!(login.id, subject, participantIds);
    const open = await this.o.groups.onJoined(login, group);
    return { open, failed };
  }

  /** Adds, removes, promotes or demotes members through the login; answers who failed, and why. */
  changeMembers(
    login: Login,
    groupId: string,
    op: GroupMemberOp,
    participantIds: string[],
  ): Promise<RemoteParticipantFailure[]> {
    return this.o.network.changeGroupMembers!(login.id, groupId, op, participantIds);
  }

  /**
   * The login leaves the group (a 404: it is not in it any more, which is what was asked);
   * it is no longer a member of the portal. Rejects with RemoteError otherwise.
   */
  async leave(login: Login, groupId: string): Promise<void> {
    try {
      await this.o.network.leaveGroup!(login.id, groupId);
    } catch (err) {
      if (!(err instanceof RemoteError && err.code === "not-found")) throw err;
    }
    const portal = await this.o.repos.groupPortals.getByGroup(groupId);
    if (portal) await this.o.repos.groupPortals.removeMember(portal.id, login.id);
  }

  /**
   * The user logged out: the bot takes them out of the rooms of `portals`, their groups (the
   * rooms stay for the other members). Answers how many rooms they were taken out of.
   */
  async closeAll(login: Login, portals: readonly GroupPortal[]): Promise<number> {
    const net = this.o.network.capabilities.networkName;
    let closed = 0;
    for (const portal of portals) {
      await this.o.repos.groupPortals.removeMember(portal.id, login.id);
      if (portal.roomId === null) continue;
      await this.removeFromRoom(
        portal.roomId,
        login,
        `You logged out of the ${net} bridge: this group is no longer bridged for you`,
      );
      closed += 1;
    }
    return closed;
  }

  /** The bot takes the user out of a group's room they no longer belong in. */
  async removeFromRoom(roomId: string, login: Login, reason: string): Promise<void> {
    try {
      await this.o.matrix.kick?.(roomId, login.mxid, reason);
    } catch (err) {
      this.o.logger.warn("could not remove a user from a group's room", { error: errorText(err) });
    }
  }

  /** A Matrix user left (or refused) a group's room: if a member, they leave the group. */
  async userLeft(group: GroupPortal, userMxid: string): Promise<void> {
    const login = await this.memberLogin(group, userMxid);
    if (!login) return;
    const net = this.o.network.capabilities.networkName;
    try {
      await this.leave(login, group.groupJid);
    } catch (err) {
      const why = err instanceof RemoteError ? err.userMessage : "the bridge had a problem";
      this.o.logger.warn("could not leave a group", { portal: group.id, error: errorText(err) });
      await this.o.tellUser(
        userMxid,
        `You left the room of a ${net} group, but leaving the group failed: ${why}. You are ` +
          `still a member; send \`groups\` to see your groups and \`group leave <name>\` to try again.`,
      );
      return;
    }
    await this.o.tellUser(userMxid, `You left the room of a ${net} group, and so the group.`);
  }

  /** A user renamed a group's room: the group is renamed through their login, or it goes back. */
  async roomRenamed(group: GroupPortal, sender: string, name: string): Promise<void> {
    if (!group.roomId) return;
    const login = await this.memberLogin(group, sender);
    let why: string | undefined;
    if (!login) why = "only the group's members can rename it (and only its admins may)";
    else if (name.trim() === "") why = "a group must have a name";
    else {
      try {
        await this.o.network.setGroupSubject!(login.id, group.groupJid, name);
        return; // the gatekeeper announces the new subject to every member
      } catch (err) {
        why = this.refusal(err, "only the group's admins can rename it");
      }
    }
    const info = await this.info(group, login);
    if (info) await this.o.matrix.setRoomName?.(group.roomId, info.subject);
    await this.notice(
      group.roomId,
      `${sender}: the group was not renamed: ${why}. The name was set back.`,
    );
  }

  /** A user invited (`add`) or kicked (`remove`) a puppet in a group's room. */
  async puppetMembership(
    group: GroupPortal,
    sender: string,
    puppetMxid: string,
    op: "add" | "remove",
  ): Promise<void> {
    const { roomId } = group;
    if (!roomId) return;
    const contactId = (await this.o.repos.puppets.getByMxid(puppetMxid))?.jid;
    if (!contactId) return;
    const login = await this.memberLogin(group, sender);
    const info = await this.info(group, login);
    const inGroup = info?.participants.some((p) => p.id === contactId) ?? false;
    const open = { portal: group, roomId };
    // Already so in the group (a puppet that had left the room, or a kick of one gone).
    if (inGroup === (op === "add") && info) {
      if (op === "add") await this.o.groups.puppetIn(open, contactId);
      else this.o.groups.forgetPuppet(roomId, puppetMxid);
      return;
    }
    const who = (await this.o.puppets.nameOf(contactId)) ?? "this contact";
    let why: string | undefined;
    if (!login) why = "only the group's admins can add and remove its members";
    else {
      try {
        const [failed] = await this.o.network.changeGroupMembers!(login.id, group.groupJid, op, [
          contactId,
        ]);
        why = failed?.reason;
      } catch (err) {
        why = this.refusal(err, "only the group's admins can add and remove its members");
      }
    }
    if (why === undefined) {
      if (op === "add") await this.o.groups.puppetIn(open, contactId);
      else this.o.groups.forgetPuppet(roomId, puppetMxid);
      return;
    }
    // Undo it in the room: the invite withdrawn, or the member back.
    if (op === "add") await this.o.matrix.kick?.(roomId, puppetMxid, "Not added to the group");
    else {
      this.o.groups.forgetPuppet(roomId, puppetMxid);
      await this.o.groups.puppetIn(open, contactId);
    }
    const did = op === "add" ? "added to" : "removed from";
    await this.notice(roomId, `${sender}: ${who} was not ${did} the group: ${why}.`);
  }

  private async memberLogin(group: GroupPortal, mxid: string): Promise<Login | undefined> {
    const login = await this.o.repos.logins.getByMxid(mxid);
    if (!login?.jid || !(await this.o.repos.groupPortals.isMember(group.id, login.id))) return;
    return login;
  }

  /** The group as `login` (else any member login) sees it; undefined if none can tell. */
  private async info(group: GroupPortal, login?: Login): Promise<RemoteGroupInfo | undefined> {
    const ids = login ? [login.id] : await this.o.repos.groupPortals.members(group.id);
    for (const id of ids) {
      try {
        return await this.o.network.groupInfo!(id, group.groupJid);
      } catch (err) {
        this.o.logger.debug("group info not available", { error: errorText(err) });
      }
    }
    return undefined;
  }

  private refusal(err: unknown, forbidden: string): string {
    if (err instanceof RemoteError) return err.code === "forbidden" ? forbidden : err.userMessage;
    this.o.logger.warn("group change failed", { error: errorText(err) });
    return "the bridge had a problem (its log has the details)";
  }

  private async notice(roomId: string, text: string): Promise<void> {
    try {
      await this.o.matrix.sendNotice(roomId, text);
    } catch (err) {
      this.o.logger.warn("could not post a notice in a group's room", { error: errorText(err) });
    }
  }
}
