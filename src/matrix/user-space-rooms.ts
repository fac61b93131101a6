/**
 * The user's space ("<network> chats"), which files every portal of theirs: made by the bot
 * on first use and remembered in bridge_users.space_room_id, so there is one per user, for
 * good.
 */
import type { UserRepository } from "../db/repositories/users.js";
import type { MatrixRequests } from "./matrix-requests.js";
import { spaceChildContent, spaceCreateRoomBody, spaceParentContent } from "./room-content.js";
import { wellFormedJson } from "../util/unicode.js";

export interface UserSpaceRoomsOptions {
  /** Homeserver server name (the via of space child and parent events). */
  domain: string;
  spaceName: string;
  networkName: string;
  /** Where the user's space is remembered (bridge_users.space_room_id). */
  users: Pick<UserRepository, "get" | "setSpaceRoom">;
}

export class UserSpaceRooms {
  private readonly spaceLocks = new Map<string, Promise<string>>();

  constructor(
    private readonly r: MatrixRequests,
    private readonly opts: UserSpaceRoomsOptions,
  ) {}

  ensureSpace(userMxid: string): Promise<string> {
    // One creation at a time per user, or two concurrent first uses would make two spaces.
    const pending = this.spaceLocks.get(userMxid);
    if (pending) return pending;
    const work = this.findOrCreateSpace(userMxid).finally(() => this.spaceLocks.delete(userMxid));
    this.spaceLocks.set(userMxid, work);
    return work;
  }

  async addToSpace(spaceId: string, roomId: string): Promise<void> {
    const bot = this.r.intent(this.r.botMxid);
    const domain = this.opts.domain;
    await this.r.limited("adding the chat to the space", () =>
      bot.sendStateEvent(spaceId, "m.space.child", roomId, spaceChildContent(domain)),
    );
    await this.r.limited("adding the chat to the space", () =>
      bot.sendStateEvent(roomId, "m.space.parent", spaceId, spaceParentContent(domain)),
    );
  }

  private async findOrCreateSpace(userMxid: string): Promise<string> {
    const known = (await this.opts.users.get(userMxid))?.spaceRoomId;
    if (known) return known;
    const bot = this.r.intent(this.r.botMxid);
    const options = wellFormedJson(
      spaceCreateRoomBody(userMxid, this.r.botMxid, this.opts.spaceName, this.opts.networkName),
    );
    const { room_id: spaceId } = await this.r.limited("creating your space", () =>
      bot.createRoom({ createAsClient: true, options }),
    );
    await this.opts.users.setSpaceRoom(userMxid, spaceId);
    return spaceId;
  }
}
