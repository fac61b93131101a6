/**
 * One portal per group, shared by every login of this bridge that is a member (as
 * mautrix-whatsapp shares group portals). The portal is found or made when a login learns of
 * the group: it was added (or created it), or a message of the group arrives. Its room is the
 * bot's: named after the subject, the description as topic, the member Matrix users invited,
 * the puppets of the other members joined, admins with power level 50, the superadmin 75.
 *
 * Changes after that (members, admins, subject) are core/group-changes.ts's; a login that
 * turns out to be a member is added and invited whenever it comes to the group.
 */
import type { GroupPortal, Login, Repositories } from "../db/repositories/index.js";
import { encryptionNotice } from "./encryption-notice.js";
import { GroupAvatars } from "./group-avatars.js";
import { KeyedLock } from "./keyed-lock.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteGroupInfo, RemoteNetwork } from "./network.js";
import type { Puppets } from "./puppets.js";
import { addToUserSpace } from "./user-space.js";
import { cleanDisplayName } from "../util/display-name.js";

export interface GroupPortalsOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  /**
   * Several processes: runs `fn` while no other process runs one for the same key, with
   * what other processes wrote before read fresh (so two never make two rooms for a group).
   */
  exclusive?: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
}

/** A group portal with its room, ready for messages. */
export interface OpenGroup {
  portal: GroupPortal;
  roomId: string;
}

/** Power levels of a group's members (puppets and Matrix users) in its room. */
export const GROUP_POWER = { superadmin: 75, admin: 50, member: 0 } as const;
const POWER = GROUP_POWER;

/** A group portal, with the logins that became members by this call. */
export interface JoinedGroup extends OpenGroup {
  added: Login[];
}

export class GroupPortals {
  /** The group picture as the room's avatar. */
  readonly avatars: GroupAvatars;
  private readonly lock = new KeyedLock();
  /** Puppets known to be in a room this run ("room\npuppet"): no membership request needed. */
  private readonly joined = new Set<string>();

  constructor(private readonly o: GroupPortalsOptions) {
    this.avatars = new GroupAvatars(o);
  }

  /** Whether groups can be bridged at all (the network and the Matrix side both can). */
  get supported(): boolean {
    return (
      this.o.network.groupInfo !== undefined &&
      this.o.network.sendGroupMessage !== undefined &&
      this.o.matrix.createGroupRoom !== undefined
    );
  }

  /** The login joined the group (created it, or was added): its portal, made if need be. */
  onJoined(login: Login, group: RemoteGroupInfo): Promise<JoinedGroup> {
    return this.lock.run(group.id, () => this.exclusive(group.id, () => this.setUp(login, group)));
  }

  /** For a message of `groupId` at `login`: the group's portal, with the login a member. */
  forIncoming(login: Login, groupId: string): Promise<OpenGroup> {
    return this.lock.run(groupId, async () => {
      const ready = async (): Promise<OpenGroup | undefined> => {
        const portal = await this.o.repos.groupPortals.getByGroup(groupId);
        if (portal?.roomId && (await this.o.repos.groupPortals.isMember(portal.id, login.id))) {
          return { portal, roomId: portal.roomId };
        }
        return undefined;
      };
      return (
        (await ready()) ??
        this.exclusive(groupId, async () => {
          // Another process may have made it meanwhile.
          const made = await ready();
          if (made) return made;
          const info = await this.o.network.groupInfo!(login.id, groupId);
          return this.setUp(login, info);
        })
      );
    });
  }

  private exclusive<T>(groupId: string, fn: () => Promise<T>): Promise<T> {
    return this.o.exclusive ? this.o.exclusive(`group\n${groupId}`, fn) : fn();
  }

  /** A login of this bridge was added: a member of the portal, invited; true if it is new. */
  async addLogin(open: OpenGroup, login: Login): Promise<boolean> {
    if (!(await this.o.repos.groupPortals.addMember(open.portal.id, login.id))) return false;
    await this.inviteUser(open.roomId, login);
    return true;
  }

  /** The puppet is no longer in the room (it left, or was kicked): the next sight joins it. */
  forgetPuppet(roomId: string, puppetMxid: string): void {
    this.joined.delete(`${roomId}\n${puppetMxid}`);
  }

  /** The member's puppet, in the room (invited by the bot and joined on first sight). */
  async puppetIn(open: OpenGroup, memberId: string, name?: string): Promise<string> {
    const clean = cleanDisplayName(name);
    const mxid = await this.o.puppets.ensure({
      id: memberId,
      ...(clean === undefined ? {} : { name: clean }),
    });
    const key = `${open.roomId}\n${mxid}`;
    if (!this.joined.has(key)) {
      await this.o.matrix.invite(open.roomId, this.o.matrix.botMxid, mxid);
      await this.o.matrix.join(open.roomId, mxid);
      this.joined.add(key);
    }
    return mxid;
  }

  private async setUp(login: Login, info: RemoteGroupInfo): Promise<JoinedGroup> {
    const { repos } = this.o;
    const { portal } = await repos.groupPortals.ensure(info.id, "active");
    // Every login of this bridge in the group is a member (`login` even if the info is late).
    const members = await this.memberLogins(login, info);
    const added: Login[] = [];
    for (const member of members) {
      if (await repos.groupPortals.addMember(portal.id, member.id)) added.push(member);
    }
    if (portal.roomId === null) {
      const roomId = await this.createRoom(portal, info, members);
      await this.avatars.sync(portal, roomId, login, info.pictureId ?? null);
      return { portal: { ...portal, roomId }, roomId, added };
    }
    for (const member of added) await this.inviteUser(portal.roomId, member);
    return { portal, roomId: portal.roomId, added };
  }

  private async memberLogins(login: Login, info: RemoteGroupInfo): Promise<Login[]> {
    const members = [login];
    for (const p of info.participants) {
      if (p.id === login.jid) continue;
      const other = await this.o.repos.logins.getByJid(p.id);
      if (other && other.state !== "logged-out") members.push(other);
    }
    return members;
  }

  private async createRoom(
    portal: GroupPortal,
    info: RemoteGroupInfo,
    members: Login[],
  ): Promise<string> {
    const ours = new Set(members.map((m) => m.jid));
    const puppets: { mxid: string; power: number }[] = [];
    for (const p of info.participants) {
      if (ours.has(p.id)) continue;
      puppets.push({ mxid: await this.o.puppets.ensure({ id: p.id }), power: POWER[p.role] });
    }
    const roles = new Map(info.participants.map((p) => [p.id, p.role]));
    const userPowers: Record<string, number> = {};
    for (const m of members) {
      const power = POWER[roles.get(m.jid ?? "") ?? "member"];
      if (power > 0) userPowers[m.mxid] = power;
    }
    const networkName = this.o.network.capabilities.networkName;
    const roomId = await this.o.matrix.createGroupRoom!({
      name: info.subject,
      topic: info.description ?? groupTopic(networkName),
      // Invited only once the room is known as this portal's (below): a user who joined and
      // wrote before that would have written into a room the bridge did not know yet.
      userMxids: [],
      userPowers,
      puppets,
      bridgeInfo: {
        protocolId: networkName.toLowerCase(),
        protocolName: networkName,
        channelId: info.id,
        channelName: info.subject,
      },
    });
    await this.o.repos.portals.setRoom(portal.id, roomId);
    for (const p of puppets) this.joined.add(`${roomId}\n${p.mxid}`);
    for (const m of members) await this.inviteUser(roomId, m);
    try {
      await this.o.matrix.sendNotice(roomId, groupEncryptionNotice(networkName));
    } catch (err) {
      this.o.logger.warn("could not post the encryption notice", { error: errorText(err) });
    }
    for (const m of members) await addToUserSpace(this.o, m.mxid, roomId);
    this.o.logger.info("group portal room created", { portal: portal.id, room: roomId });
    return roomId;
  }

  private async inviteUser(roomId: string, member: Login): Promise<void> {
    try {
      await this.o.matrix.invite(roomId, this.o.matrix.botMxid, member.mxid);
    } catch (err) {
      this.o.logger.warn("could not invite a member to a group's room", {
        room: roomId,
        error: errorText(err),
      });
    }
    await addToUserSpace(this.o, member.mxid, roomId);
  }
}

/** A group's topic when it has no description (docs/protocol.md §16, as portalTopic). */
export function groupTopic(networkName: string): string {
  return (
    `${networkName} group, bridged. End-to-end encryption ends at the bridge: messages are ` +
    `encrypted between the ${networkName} apps and this bridge, which decrypts them to bring them here.`
  );
}

function groupEncryptionNotice(networkName: string): string {
  return encryptionNotice(networkName, "the members'");
}
