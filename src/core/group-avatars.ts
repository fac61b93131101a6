/**
 * A group's picture as its room's avatar. Every member login reports the same picture change,
 * so the portal remembers which remote picture the avatar was made from (avatar_source) and
 * the picture is fetched and uploaded once per change. Best effort: a picture that cannot be
 * fetched or set leaves the avatar as it was (logged), and never holds up the change's ack.
 */
import type { GroupPortal, Login, Repositories } from "../db/repositories/index.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";
import type { RemoteNetwork } from "./network.js";

export interface GroupAvatarsOptions {
  repos: Repositories;
  matrix: MatrixSide;
  network: RemoteNetwork;
  logger: CoreLogger;
}

export class GroupAvatars {
  constructor(private readonly o: GroupAvatarsOptions) {}

  /**
   * Makes the room's avatar show the group picture `pictureId` (null: the group has none),
   * fetched through `login`. Callers hold the group's lock.
   */
  async sync(
    portal: GroupPortal,
    roomId: string,
    login: Login,
    pictureId: string | null,
  ): Promise<void> {
    const { matrix, network, repos } = this.o;
    if (!matrix.setRoomAvatar || !network.groupPicture) return;
    const current = (await repos.groupPortals.get(portal.id))?.avatarSource ?? null;
    if (current === pictureId) return;
    try {
      // The picture may have changed again (or gone) since the notification: what is
      // fetched is what the avatar shows, and its id is what is recorded.
      const picture =
        pictureId === null ? null : await network.groupPicture(login.id, portal.groupJid);
      const source = picture?.id ?? null;
      if (source === current) return;
      await matrix.setRoomAvatar(roomId, picture);
      await repos.groupPortals.setAvatarSource(portal.id, source);
      this.o.logger.debug("group avatar set", { portal: portal.id, removed: picture === null });
    } catch (err) {
      this.o.logger.warn("could not set a group's picture as its room's avatar", {
        portal: portal.id,
        error: errorText(err),
      });
    }
  }
}
