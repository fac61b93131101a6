/**
 * A bridge notice in a portal. The bot is in portal rooms (the Matrix side invites it), and
 * notices from it do not read as if the contact had said them; should the bot be missing,
 * the contact's puppet (always there) posts it instead, rather than nobody.
 */
import type { MatrixSide } from "./matrix-side.js";

export async function portalNotice(
  matrix: MatrixSide,
  roomId: string,
  text: string,
  puppetMxid: string | undefined,
  txnKey?: string,
): Promise<string> {
  try {
    return await matrix.sendNotice(roomId, text, undefined, txnKey);
  } catch (err) {
    if (puppetMxid === undefined) throw err;
    return await matrix.sendNotice(roomId, text, puppetMxid, txnKey);
  }
}
