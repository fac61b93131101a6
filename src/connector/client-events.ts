/**
 * A login's GatekeeperClient events handed to the core's RemoteEventHandler. Messages and
 * group changes are awaited inside the client's handler, so the client acks them only after
 * the core took them; the rest are logged on failure, since nothing would deliver them again.
 */
import type { RemoteEventHandler } from "../core/network.js";
import type { ClientLogger, GatekeeperClient } from "../gatekeeper/client/index.js";
import { errorText } from "../gatekeeper/client/logger.js";
import { toRemoteMessage, undecryptableReason } from "./content-mapping.js";
import { toRemoteReceipt, typingState } from "./ephemeral-mapping.js";
import { connectionProblem } from "./error-mapping.js";
import { toRemoteGroupChange } from "./group-mapping.js";
import type { IncomingMediaOptions } from "./media-incoming.js";

export interface ClientEventsOptions {
  loginId: string;
  /** The core's handler, read at each event (it is set after the network is made). */
  handler: () => RemoteEventHandler | undefined;
  logger: ClientLogger;
  /** Where incoming media is verified; undefined when the bridge has no media. */
  tempDir: string | undefined;
}

/** Subscribes to the client's events; returns what unsubscribes them. */
export function subscribeClientEvents(
  client: GatekeeperClient,
  o: ClientEventsOptions,
): (() => void)[] {
  const { loginId, logger } = o;
  const handler = (): RemoteEventHandler => {
    const current = o.handler();
    if (!current) throw new Error("GatekeeperNetwork: setHandler was not called");
    return current;
  };
  const quietly = (what: string, task: () => Promise<void>): Promise<void> =>
    task().catch((err: unknown) =>
      logger.warn(`${what} handler failed`, { login: loginId, error: errorText(err) }),
    );
  // Receipts and chat states are acked (or need none) at once: handled after, in order.
  let ephemeral = Promise.resolve();
  const later = (what: string, task: () => Promise<void>): void => {
    ephemeral = ephemeral.then(() => quietly(what, task));
  };
  const incomingMedia = (): IncomingMediaOptions | undefined =>
    o.tempDir === undefined ? undefined : { client, tempDir: o.tempDir };
  return [
    // A group's (`from` is the member) goes to the group's handler, never to the chat with
    // that member.
    client.on("receipt", (event) =>
      later("receipt", async () => {
        const receipt = toRemoteReceipt(event);
        if (event.group === undefined) await handler().onContactReceipt?.(loginId, receipt);
        else await handler().onGroupReceipt?.(loginId, event.group, receipt);
      }),
    ),
    client.on("chatstate", (event) =>
      later("chat state", async () => {
        const state = typingState(event);
        if (event.group === undefined)
          await handler().onContactTyping?.(loginId, event.from, state);
        else await handler().onGroupTyping?.(loginId, event.group, event.from, state);
      }),
    ),
    // Not caught: a failure leaves the message unacked, to be delivered again.
    client.on("message", (event) =>
      handler().onMessage(loginId, toRemoteMessage(event, incomingMedia(), client.jid)),
    ),
    // Not caught either: a change the core could not take is announced again.
    client.on("groupChange", (event) =>
      handler().onGroupChange?.(loginId, toRemoteGroupChange(event)),
    ),
    client.on("connectionState", (event) =>
      quietly("connection state", () =>
        handler().onConnectionState(loginId, event.state, connectionProblem(event.error)),
      ),
    ),
    client.on("identityChange", ({ jid }) =>
      quietly("identity change", () => handler().onIdentityChange(loginId, jid)),
    ),
    client.on("undecryptable", ({ from, group, id, code, retryRequested }) =>
      quietly("undecryptable", async () => {
        const reason = undecryptableReason(code, retryRequested);
        // A group's is told in the group's room, not in the chat with that member.
        if (group !== undefined) {
          await handler().onGroupUndecryptable?.(loginId, group, from, id, reason);
          return;
        }
        await handler().onUndecryptable(loginId, from, id, reason);
      }),
    ),
    // A copy of a message handled before (its ack was lost): nothing to do; the id follows a
    // message through the logs of every process that held the login.
    client.on("duplicate", ({ id, group }) =>
      logger.debug("a message came again, already handled", { login: loginId, id, group }),
    ),
    client.on("sendFailed", ({ id }) =>
      logger.warn("a contact could not decrypt a message", { login: loginId, id }),
    ),
    client.on("error", (err) =>
      logger.warn("gatekeeper client error", { login: loginId, error: errorText(err) }),
    ),
  ];
}
