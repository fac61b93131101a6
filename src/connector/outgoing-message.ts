/**
 * What the bridge sends for a Matrix message, to a contact or to a group: media hosted first
 * (for a group until it expires, as every member fetches it, §11.4), anything else mapped
 * as it is. One place for both, so that a chat and a group never map content differently.
 */
import type { BridgeContent } from "../core/content.js";
import { isMediaContent } from "../core/media.js";
import type { SendResult } from "../core/network.js";
import type { GatekeeperClient } from "../gatekeeper/client/index.js";
import type { Message } from "../gen/gki_pb.js";
import { toGatekeeperMessage } from "./content-mapping.js";
import type { GatekeeperNetworkOptions } from "./gatekeeper-network.js";
import type { LoginClients } from "./login-clients.js";
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

/**
 * Sends a Matrix message to a contact or a group through the login's client: built once the
 * client is ready (its own JID marks quotes of its own messages), sent under the bridge's id,
 * and stamped with the gatekeeper's time. `send` is the one step a chat and a group differ in.
 */
export async function sendOutgoing(
  clients: LoginClients,
  o: Pick<GatekeeperNetworkOptions, "media" | "sendTimeoutMs">,
  target: { loginId: string; to: string; messageId: string; group?: boolean },
  content: BridgeContent,
  send: (
    client: GatekeeperClient,
    message: Message,
    options: { id: string; timeoutMs: number },
  ) => Promise<{ t: number }>,
): Promise<SendResult> {
  const { loginId, messageId } = target;
  await clients.ready(loginId, "send");
  const ownJid = clients.get(loginId)?.client.jid;
  const message = await outgoingMessage(o.media?.hosted, { ...target, ownJid }, content);
  const timeoutMs = o.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  const { t } = await clients.call(loginId, "send", (c) =>
    send(c, message, { id: messageId, timeoutMs }),
  );
  return { timestamp: t * 1000 };
}
