/**
 * What the bridge sends for a Matrix message, to a contact or to a group: media hosted first
 * (for a group until it expires, as every member fetches it, §11.4), anything else mapped
 * as it is. One place for both, so that a chat and a group never map content differently.
 */
import type { BridgeContent } from "../core/content.js";
import { isMediaContent } from "../core/media.js";
import type { Message } from "../gen/gki_pb.js";
import { toGatekeeperMessage } from "./content-mapping.js";
import type { HostedMedia } from "./media-host.js";
import { outgoingMediaMessage } from "./media-outgoing.js";

/** How long a send waits for the gatekeeper's ack unless configured. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;

export async function outgoingMessage(
  hosted: HostedMedia | undefined,
  o: {
    loginId: string;
    to: string;
    messageId: string;
    ownJid: string | undefined;
    group?: boolean;
  },
  content: BridgeContent,
): Promise<Message> {
  const group = o.group === true;
  if (isMediaContent(content) && hosted) {
    return outgoingMediaMessage(hosted, o.loginId, o.messageId, content, group ? { group } : {});
  }
  return toGatekeeperMessage(content, {
    contactId: o.to,
    ownJid: o.ownJid,
    ...(group ? { group } : {}),
  });
}
