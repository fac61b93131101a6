/**
 * The user's "<network> chats" space: every portal of theirs, one-to-one or group, is filed
 * there. Best effort: the chat works without it.
 */
import type { Repositories } from "../db/repositories/index.js";
import { errorText } from "./logger.js";
import type { CoreLogger } from "./logger.js";
import type { MatrixSide } from "./matrix-side.js";

export async function addToUserSpace(
  o: { repos: Repositories; matrix: MatrixSide; logger: CoreLogger },
  mxid: string,
  roomId: string,
): Promise<void> {
  try {
    let spaceId = (await o.repos.users.get(mxid))?.spaceRoomId ?? null;
    if (spaceId === null) {
      spaceId = await o.matrix.ensureSpace(mxid);
      await o.repos.users.setSpaceRoom(mxid, spaceId);
    }
    await o.matrix.addToSpace(spaceId, roomId);
  } catch (err) {
    // The chat works without the space; it is only where clients file it.
    o.logger.warn("could not add a portal to the user's space", { error: errorText(err) });
  }
}
