/**
 * Typing in group rooms, both ways; ephemeral, so best effort and never retried (as typing.ts
 * for one-to-one chats). Matrix → remote: a member user typing is "composing" to the group
 * through their login, stopping is "paused". Remote → Matrix: a member's puppet types
 * ("recording" too) until "paused" or the timeout.
 *
 * Every member login of this bridge hears each chat state of the group. The copies come
 * through separate connections, so one may come late: following every login, a late
 * "composing" could show typing again after "paused". So per (group, member) the core follows
 * the login it heard first, until that one has been silent for the typing timeout (it may
 * have gone offline); the other logins' copies are dropped meanwhile.
 */
import type { Repositories } from "../db/repositories/index.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork, RemoteTypingState } from "./network.js";
import type { Puppets } from "./puppets.js";
import { REMOTE_TYPING_TIMEOUT_MS } from "./typing.js";

export interface GroupTypingOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  puppets: Puppets;
  logger: CoreLogger;
  mayUse(mxid: string): boolean;
  /** For tests; default Date.now. */
  now?: () => number;
}

/** Members followed at once beyond which the silent ones are forgotten. */
const MAX_FOLLOWED = 1_000;

export class GroupTyping {
  /** Per "portal\nmember": the login whose chat states are followed, and when it last spoke. */
  private readonly followed = new Map<string, { loginId: string; at: number }>();

  constructor(private readonly o: GroupTypingOptions) {}

  /** Matrix → remote. */
  async onMatrixTyping(roomId: string, userMxid: string, typing: boolean): Promise<void> {
    const { repos, network } = this.o;
    const send = network.sendGroupTyping?.bind(network);
    if (!send || !network.capabilities.features.typing) return;
    const group = await repos.groupPortals.getByRoom(roomId);
    if (!group || group.state !== "active") return;
    const login = await repos.logins.getByMxid(userMxid);
    if (!login?.jid || !this.o.mayUse(userMxid)) return;
    if (!(await repos.groupPortals.isMember(group.id, login.id))) return;
    await send(login.id, group.groupJid, typing ? "composing" : "paused");
  }

  /** Remote → Matrix: `memberId` typing in `groupId`, as heard by `loginId`. */
  async onRemoteTyping(
    loginId: string,
    groupId: string,
    memberId: string,
    state: RemoteTypingState,
  ): Promise<void> {
    const setTyping = this.o.matrix.setTyping?.bind(this.o.matrix);
    if (!setTyping) return;
    const { repos } = this.o;
    const group = await repos.groupPortals.getByGroup(groupId);
    if (!group?.roomId) return;
    // A Matrix user typing, through their login: Matrix shows it already.
    if (await repos.logins.getByJid(memberId)) return;
    if (!this.follows(`${group.id}\n${memberId}`, loginId)) return;
    const puppet = await this.o.puppets.mxidOf(memberId);
    if (!puppet) return;
    await setTyping(group.roomId, puppet, state !== "paused", REMOTE_TYPING_TIMEOUT_MS);
  }

  /** Whether a chat state heard through `loginId` is the one to follow (see above). */
  private follows(key: string, loginId: string): boolean {
    const now = (this.o.now ?? Date.now)();
    const current = this.followed.get(key);
    if (current && current.loginId !== loginId && now - current.at < REMOTE_TYPING_TIMEOUT_MS) {
      return false;
    }
    this.followed.delete(key); // re-inserted last: the map stays in order of last word
    this.followed.set(key, { loginId, at: now });
    if (this.followed.size > MAX_FOLLOWED) this.forgetSilent(now);
    return true;
  }

  private forgetSilent(now: number): void {
    for (const [key, entry] of this.followed) {
      if (now - entry.at < REMOTE_TYPING_TIMEOUT_MS) return; // the rest spoke later
      this.followed.delete(key);
    }
  }
}
