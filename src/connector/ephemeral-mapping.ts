/** GKI/1 receipts and chat states as the core sees them (docs/protocol.md §13). */
import type { RemoteReceipt, RemoteTypingState } from "../core/network.js";
import type { ChatStateEvent, ReceiptEvent } from "../gatekeeper/client/index.js";

export function toRemoteReceipt(event: ReceiptEvent): RemoteReceipt {
  return {
    contactId: event.from,
    messageIds: event.ids,
    kind: event.type,
    timestamp: event.t * 1000,
  };
}

/** `<composing media="audio"/>` is recording a voice message. */
export function typingState(event: ChatStateEvent): RemoteTypingState {
  if (event.state === "paused") return "paused";
  return event.media === "audio" ? "recording" : "composing";
}
