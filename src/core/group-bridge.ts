/**
 * Everything groups add to the core (docs/architecture.md, "Groups"), made and reached in one
 * place: the portals, the changes from the network, the actions from Matrix and the security
 * notices. The core hands each group event here; a bridge whose network or Matrix side
 * cannot do groups ignores them.
 */
import type { Config } from "../config/index.js";
import type { GroupPortal, Login, Repositories } from "../db/repositories/index.js";
import { GroupActions } from "./group-actions.js";
import { GroupChanges } from "./group-changes.js";
import { GroupNotices } from "./group-notices.js";
import { GroupPortals } from "./group-portals.js";
import type { GroupPortalsOptions } from "./group-portals.js";
import type { CoreLogger } from "./logger.js";
import type { IncomingMatrixMessage } from "./matrix-events.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteGroupChange, RemoteNetwork, UndecryptableReason } from "./network.js";
import type { Puppets } from "./puppets.js";
import type { RelayOut } from "./relay-out.js";

export interface GroupBridgeOptions {
  config: Config;
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  mayUse(mxid: string): boolean;
  /** A notice in the user's management room. */
  tellUser(mxid: string, text: string): Promise<void>;
  /** Where messages to the network go (the core's outbound relay). */
  outbox(): Pick<RelayOut, "enqueueGroup" | "tellFailure">;
  /** The user was active (for their presence). */
  activity(mxid: string): void;
  /** Several processes: see GroupPortalsOptions.exclusive. */
  exclusive?: GroupPortalsOptions["exclusive"];
}

export class GroupBridge {
  readonly portals: GroupPortals;
  readonly changes: GroupChanges;
  readonly actions: GroupActions;
  private readonly notices: GroupNotices;

  constructor(private readonly o: GroupBridgeOptions) {
    const { repos, matrix, network, puppets, logger } = o;
    this.portals = new GroupPortals({
      repos,
      matrix,
      network,
      puppets,
      logger,
      ...(o.exclusive ? { exclusive: o.exclusive } : {}),
    });
    const env = { repos, matrix, network, groups: this.portals, puppets, logger };
    this.changes = new GroupChanges({ ...env, tellUser: o.tellUser });
    this.actions = new GroupActions({ ...env, tellUser: o.tellUser });
    this.notices = new GroupNotices({
      ...env,
      policy: o.config.bridge.identityChange,
      commandPrefix: o.config.bridge.commandPrefix,
    });
  }

  /** Whether groups are bridged at all (the network and the Matrix side both can). */
  get supported(): boolean {
    return this.portals.supported;
  }

  // ------------------------------------------------------------------ from Matrix

  /** A message in a group's room goes out through its sender's login, if they are a member. */
  async roomMessage(group: GroupPortal, message: IncomingMatrixMessage): Promise<void> {
    const outbox = this.o.outbox();
    if (!this.o.mayUse(message.sender)) {
      await outbox.tellFailure(
        group,
        message.eventId,
        "you are no longer allowed to use this bridge",
      );
      return;
    }
    const { repos, network } = this.o;
    const login = await repos.logins.getByMxid(message.sender);
    const member = login?.jid && (await repos.groupPortals.isMember(group.id, login.id));
    if (!login || !member) {
      await outbox.tellFailure(
        group,
        message.eventId,
        `you are not a member of this group on ${network.capabilities.networkName} through ` +
          `this bridge (only the group's members can write here; an admin of the group can ` +
          `add you)`,
      );
      return;
    }
    this.o.activity(message.sender);
    await outbox.enqueueGroup(group, login, message);
  }

  /** A user left a group's room (or refused its invite): if a member, they leave the group. */
  async userLeft(roomId: string, userMxid: string): Promise<boolean> {
    const group = await this.o.repos.groupPortals.getByRoom(roomId);
    if (!group) return false;
    if (this.actions.supported) await this.actions.userLeft(group, userMxid);
    return true;
  }

  /** An invite (add) or kick (remove) of a puppet in a group's room. */
  async puppetMembership(
    roomId: string,
    sender: string,
    puppetMxid: string,
    membership: "invite" | "leave" | "ban",
  ): Promise<void> {
    const group = await this.actionable(roomId, sender);
    if (!group) return;
    const op = membership === "invite" ? "add" : "remove";
    await this.actions.puppetMembership(group, sender, puppetMxid, op);
  }

  async roomRenamed(roomId: string, sender: string, name: string): Promise<void> {
    const group = await this.actionable(roomId, sender);
    if (group) await this.actions.roomRenamed(group, sender, name);
  }

  // ------------------------------------------------------------------ from the network

  /** A group changed (the login joined it, or its members, admins or subject changed). */
  async changed(loginId: string, change: RemoteGroupChange): Promise<void> {
    if (!this.supported) {
      this.o.logger.debug("group change not bridged", { login: loginId });
      return;
    }
    const login = await this.o.repos.logins.get(loginId);
    if (login) await this.changes.apply(login, change);
  }

  async identityChanged(loginId: string, contactId: string): Promise<void> {
    const login = await this.loginOf(loginId);
    if (login) await this.notices.onIdentityChange(login, contactId);
  }

  async undecryptable(
    loginId: string,
    groupId: string,
    senderId: string,
    messageId: string,
    reason: UndecryptableReason,
  ): Promise<void> {
    const login = await this.loginOf(loginId);
    if (login) await this.notices.onUndecryptable(login, groupId, senderId, messageId, reason);
  }

  private async loginOf(loginId: string): Promise<Login | undefined> {
    return this.supported ? await this.o.repos.logins.get(loginId) : undefined;
  }

  /** The group of a room, if the sender may act on groups from it. */
  private async actionable(roomId: string, sender: string): Promise<GroupPortal | undefined> {
    if (!this.actions.supported || !this.o.mayUse(sender)) return undefined;
    return this.o.repos.groupPortals.getByRoom(roomId);
  }
}
