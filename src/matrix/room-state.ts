/**
 * A group's room and its state, set by the bot: creation, members removed, power levels,
 * name, topic and avatar. Every member login reports each change of the group, so each
 * setter reads the state first and sends nothing when the room is so already.
 */
import type { GroupRoomSpec } from "../core/matrix-side.js";
import type { MatrixMedia } from "./matrix-media.js";
import type { MatrixRequests } from "./matrix-requests.js";
import { groupCreateRoomBody } from "./room-content.js";
import { wellFormed, wellFormedJson } from "../util/unicode.js";

type Json = Record<string, unknown>;

export interface GroupRoomStateOptions {
  /** Without it no picture can be uploaded, and avatars are left alone. */
  media?: MatrixMedia;
}

export class GroupRoomState {
  constructor(
    private readonly r: MatrixRequests,
    private readonly opts: GroupRoomStateOptions,
    /** Joins `mxid` to the room (the Matrix side's join). */
    private readonly join: (roomId: string, mxid: string) => Promise<void>,
  ) {}

  async createGroupRoom(spec: GroupRoomSpec): Promise<string> {
    const bot = this.r.intent(this.r.botMxid);
    const options = wellFormedJson(groupCreateRoomBody(spec, this.r.botMxid));
    const { room_id: roomId } = await this.r.limited("creating the group's room", () =>
      bot.createRoom({ createAsClient: true, options }),
    );
    for (const puppet of spec.puppets) await this.join(roomId, puppet.mxid);
    return roomId;
  }

  async kick(roomId: string, userMxid: string, reason: string): Promise<void> {
    const bot = this.r.intent(this.r.botMxid);
    const member = (await this.r.limited("reading the room's members", () =>
      bot.getStateEvent(roomId, "m.room.member", userMxid, true),
    )) as { membership?: unknown } | null;
    if (member?.membership !== "join" && member?.membership !== "invite") return;
    await this.r.limited("removing a member from the room", () =>
      bot.kick(roomId, userMxid, wellFormed(reason)),
    );
  }

  async setPowerLevel(roomId: string, userMxid: string, level: number): Promise<void> {
    const bot = this.r.intent(this.r.botMxid);
    const current = ((await this.r.limited("reading the room's power levels", () =>
      bot.getStateEvent(roomId, "m.room.power_levels", "", true),
    )) ?? {}) as Json;
    const users = { ...((current.users ?? {}) as Record<string, unknown>) };
    const fallback = typeof current.users_default === "number" ? current.users_default : 0;
    if ((users[userMxid] ?? fallback) === level) return;
    if (level === fallback) delete users[userMxid];
    else users[userMxid] = level;
    await this.r.limited("the room's power levels", () =>
      bot.sendStateEvent(roomId, "m.room.power_levels", "", { ...current, users }),
    );
  }

  setRoomName(roomId: string, name: string): Promise<void> {
    return this.setTextState(roomId, "m.room.name", "name", name);
  }

  setRoomTopic(roomId: string, topic: string): Promise<void> {
    return this.setTextState(roomId, "m.room.topic", "topic", topic);
  }

  async setRoomAvatar(
    roomId: string,
    picture: { bytes: Uint8Array; mimetype: string } | null,
  ): Promise<void> {
    const media = this.opts.media;
    if (!media) return; // no media relay configured: nothing can be uploaded
    const bot = this.r.intent(this.r.botMxid);
    const content: Json = {};
    if (picture) {
      const file = await this.r.limited("uploading the group's picture", () =>
        media.uploadBytes(picture.bytes, picture.mimetype, this.r.botMxid, "group-picture"),
      );
      content.url = file.url;
      content.info = { mimetype: picture.mimetype, size: file.size };
    }
    await this.r.limited("the room's avatar", () =>
      bot.sendStateEvent(roomId, "m.room.avatar", "", content),
    );
  }

  private async setTextState(roomId: string, type: string, key: string, value: string) {
    const bot = this.r.intent(this.r.botMxid);
    const text = wellFormed(value);
    const current = (await this.r.limited(`reading the room's ${key}`, () =>
      bot.getStateEvent(roomId, type, "", true),
    )) as Json | null;
    if ((current?.[key] ?? "") === text) return;
    await this.r.limited(`the room's ${key}`, () =>
      bot.sendStateEvent(roomId, type, "", { [key]: text }),
    );
  }
}
