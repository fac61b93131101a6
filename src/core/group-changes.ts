/**
 * Gatekeeper → Matrix for a group's changes (docs/architecture.md, "Groups", step 4): members
 * added or gone, admins, subject and description, shown in the group's room. Every member
 * login receives every change, so each step is idempotent by state, not by counting: a login
 * already a member is not invited again, a puppet already gone is not kicked, a name or a
 * power level the room has already is not sent again (MatrixSide's setters compare first).
 * Changes of a group without a portal are left alone: the portal is made from the group's info
 * when it is needed, and that info has them.
 */
import type { Login, Repositories } from "../db/repositories/index.js";
import { GROUP_POWER, groupTopic } from "./group-portals.js";
import type { GroupPortals, OpenGroup } from "./group-portals.js";
import { KeyedLock } from "./keyed-lock.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteGroupChange, RemoteNetwork } from "./network.js";
import type { Puppets } from "./puppets.js";

export interface GroupChangesOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  groups: GroupPortals;
  puppets: Puppets;
  logger: CoreLogger;
  /** A notice in the user's management room. */
  tellUser(mxid: string, text: string): Promise<void>;
}

type MembersChange = Extract<RemoteGroupChange, { kind: "members" }>;

export class GroupChanges {
  /** One change of a group at a time (every member login brings the same ones). */
  private readonly lock = new KeyedLock();

  constructor(private readonly o: GroupChangesOptions) {}

  async apply(login: Login, change: RemoteGroupChange): Promise<void> {
    if (change.kind === "joined") {
      const joined = await this.o.groups.onJoined(login, change.group);
      for (const added of joined.added) {
        if (added.id === login.id) await this.welcome(added, change.group.subject, change.actor);
      }
      return;
    }
    await this.lock.run(change.groupId, async () => {
      const portal = await this.o.repos.groupPortals.getByGroup(change.groupId);
      if (!portal?.roomId) {
        this.o.logger.debug("change of a group without a room", { kind: change.kind });
        return;
      }
      const open = { portal, roomId: portal.roomId };
      const { matrix } = this.o;
      switch (change.kind) {
        case "members":
          await this.members(open, change);
          return;
        case "subject":
          await matrix.setRoomName?.(open.roomId, change.subject);
          return;
        case "description":
          await matrix.setRoomTopic?.(
            open.roomId,
            change.description ?? groupTopic(this.o.network.capabilities.networkName),
          );
          return;
        case "picture":
          await this.o.groups.avatars.sync(portal, open.roomId, login, change.pictureId);
          return;
      }
    });
  }

  private async members(open: OpenGroup, change: MembersChange): Promise<void> {
    for (const id of change.participants) {
      const own = await this.o.repos.logins.getByJid(id);
      const login = own && own.state !== "logged-out" ? own : undefined;
      switch (change.op) {
        case "add":
          if (!login) await this.o.groups.puppetIn(open, id);
          else if (await this.o.groups.addLogin(open, login)) {
            await this.welcome(login, undefined, change.actor);
          }
          break;
        case "remove":
        case "leave":
          await this.gone(open, id, login, change);
          break;
        case "promote":
        case "demote": {
          const mxid = login?.mxid ?? (await this.o.puppets.ensure({ id }));
          const power = change.op === "promote" ? GROUP_POWER.admin : GROUP_POWER.member;
          await this.o.matrix.setPowerLevel?.(open.roomId, mxid, power);
          break;
        }
      }
    }
  }

  /** A member left or was removed: their puppet leaves, or the Matrix user is no longer in. */
  private async gone(
    open: OpenGroup,
    id: string,
    login: Login | undefined,
    change: MembersChange,
  ): Promise<void> {
    const { repos, matrix } = this.o;
    const net = this.o.network.capabilities.networkName;
    const removed = change.op === "remove";
    if (login) {
      if (!(await repos.groupPortals.removeMember(open.portal.id, login.id))) return;
      const by = removed ? await this.nameOf(change.actor) : undefined;
      const reason = by ? `${by} removed you from the group` : "You left the group";
      await matrix.kick?.(open.roomId, login.mxid, reason);
      // A login leaves only through this bridge (the room, `group leave`, `logout`), which
      // told the user already.
      if (!removed) return;
      await this.o.tellUser(
        login.mxid,
        `${reason} on ${net}; its room no longer receives its messages for you.`,
      );
      return;
    }
    const mxid = await this.o.puppets.mxidOf(id);
    if (!mxid) return;
    this.o.groups.forgetPuppet(open.roomId, mxid);
    if (removed) {
      const by = (await this.nameOf(change.actor)) ?? "an admin";
      await matrix.kick?.(open.roomId, mxid, `Removed from the group by ${by}`);
    } else {
      await matrix.leave(open.roomId, mxid);
    }
  }

  /**
   * A login was added to a group by someone who is not one of its contacts (no chat with them
   * here): like a message request, the user learns who added them and that leaving the room
   * (or refusing its invite) leaves the group.
   */
  private async welcome(login: Login, subject: string | undefined, actor: string): Promise<void> {
    if (actor === login.jid) return; // they made it themselves
    const contact = await this.o.repos.portals.getByContact(login.id, actor);
    if (contact && contact.state === "active") return;
    const own = await this.o.repos.logins.getByJid(actor);
    if (own) return; // another Matrix user of this bridge
    const net = this.o.network.capabilities.networkName;
    // A member's name is known only once they wrote; their puppet is there from the start.
    const puppet = await this.o.puppets.ensure({ id: actor });
    const who = (await this.nameOf(actor)) ?? `Someone you have no chat with (${puppet})`;
    const which = subject === undefined ? "a group" : `the group "${subject}"`;
    await this.o.tellUser(
      login.mxid,
      `${who} added you to ${which} on ${net} (you are invited to its room). You have no chat with them here. If ` +
        `you do not want to be in this group, reject the invite or leave the room: that ` +
        `leaves the group.`,
    );
  }

  /** How a member is named to users: their name, else their number; undefined if neither. */
  private async nameOf(id: string): Promise<string | undefined> {
    const own = await this.o.repos.logins.getByJid(id);
    if (own) return own.mxid;
    const name = await this.o.puppets.nameOf(id);
    const phone = await this.o.puppets.phoneOf(id);
    if (name && phone) return `${name} (${phone})`;
    return name ?? phone;
  }
}
