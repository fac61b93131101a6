/**
 * What the room is told when the intake gave up on one of its events: never silence, and
 * what actually happened, e.g. "the homeserver refused the bridge's reply: M_TOO_LARGE"
 * rather than a generic failure (which is kept for the bridge's own, unexpected errors).
 */
import type { QueuedEvent } from "../db/repositories/matrix-intake.js";
import type { AppserviceMatrixSide } from "./matrix-side.js";
import { Logger } from "./appservice-bridge.js";
import type { IntakeAction } from "./event-classifier.js";
import type { GaveUp } from "./intake-worker.js";

const log = new Logger("MatrixAppservice");

/** The notice's text (network: "Gatekeeper"). */
export function gaveUpNotice(gaveUp: GaveUp, network: string): string {
  if (gaveUp.detail === undefined) {
    return (
      `Your message could not be bridged to ${network}: the bridge failed to process it. ` +
      `Please send it again.`
    );
  }
  const advice =
    gaveUp.reason === "refused"
      ? "Sending the same message again will not help."
      : "Please send it again later.";
  return `The bridge gave up on your message: ${gaveUp.detail}. ${advice}`;
}

export async function tellGaveUp(
  matrixSide: Pick<AppserviceMatrixSide, "sendNotice" | "sendStatus">,
  network: string,
  action: IntakeAction,
  event: QueuedEvent,
  gaveUp: GaveUp,
): Promise<void> {
  const isMessage =
    action.kind === "message" ||
    (action.kind === "ignore" && event.event?.type === "m.room.message");
  if (!isMessage) {
    log.warn(`Gave up on a ${action.kind} event ${event.eventId} in ${event.roomId}`);
    return;
  }
  await matrixSide.sendNotice(event.roomId, gaveUpNotice(gaveUp, network));
  const reason =
    gaveUp.detail === undefined
      ? "The bridge could not process this message."
      : `The bridge gave up on this message: ${gaveUp.detail}.`;
  await matrixSide.sendStatus(event.roomId, event.eventId, { status: "failed", reason });
}
