/** Typing notifications, receipts and read markers. */
import { badJson, forbidden, invalidParam } from "../errors.js";
import { receiptEdu } from "../ephemeral.js";
import type { Homeserver } from "../homeserver.js";
import type { Room } from "../room.js";
import { me } from "../router.js";
import type { Router } from "../router.js";

const CS = "/_matrix/client/v3";
const RECEIPT_TYPES = new Set(["m.read", "m.read.private", "m.fully_read"]);

function mustBeJoined(room: Room, userId: string): void {
  if (room.membership(userId) !== "join")
    throw forbidden(`User ${userId} not in room ${room.roomId}`);
}

function recordReceipt(
  hs: Homeserver,
  room: Room,
  userId: string,
  type: string,
  eventId: string,
  threadId?: string,
): void {
  if (type === "m.fully_read") {
    hs.accountData.setRoom(userId, room.roomId, "m.fully_read", { event_id: eventId });
    return;
  }
  const receipt = hs.receipts.add({
    roomId: room.roomId,
    userId,
    type,
    eventId,
    ...(threadId ? { threadId } : {}),
  });
  // Private receipts reach only application services whose namespaces cover the user.
  hs.pushRoomEdu(
    room,
    { ...receiptEdu([receipt]), room_id: room.roomId },
    (as) => type !== "m.read.private" || as.isInterestedInUser(userId),
  );
}

export function registerEphemeralRoutes(r: Router): void {
  r.route("PUT", `${CS}/rooms/:roomId/typing/:userId`, {}, (ctx) => {
    const req = me(ctx);
    if (ctx.params.userId !== req.userId) throw forbidden("Cannot set another user's typing state");
    const room = ctx.hs.room(ctx.params.roomId!);
    mustBeJoined(room, req.userId);
    const { typing, timeout } = ctx.body;
    if (typeof typing !== "boolean") throw badJson("Missing typing key");
    if (timeout !== undefined && typeof timeout !== "number")
      throw badJson("timeout must be a number");
    ctx.hs.typing.set(room.roomId, req.userId, typing, Math.min(timeout ?? 30_000, 120_000));
    return {};
  });

  r.route(
    "POST",
    `${CS}/rooms/:roomId/receipt/:receiptType/:eventId`,
    { emptyBodyOk: true },
    (ctx) => {
      const req = me(ctx);
      const type = ctx.params.receiptType!;
      if (!RECEIPT_TYPES.has(type)) {
        throw invalidParam("Receipt type must be 'm.read', 'm.read.private' or 'm.fully_read'");
      }
      const threadId = ctx.body.thread_id;
      if (threadId !== undefined && (typeof threadId !== "string" || threadId === "")) {
        throw invalidParam("thread_id must be a non-empty string");
      }
      if (threadId !== undefined && type === "m.fully_read") {
        throw invalidParam("thread_id is not allowed for m.fully_read");
      }
      const room = ctx.hs.room(ctx.params.roomId!);
      mustBeJoined(room, req.userId);
      recordReceipt(
        ctx.hs,
        room,
        req.userId,
        type,
        ctx.params.eventId!,
        threadId as string | undefined,
      );
      return {};
    },
  );

  r.route("POST", `${CS}/rooms/:roomId/read_markers`, {}, (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    mustBeJoined(room, req.userId);
    for (const type of ["m.fully_read", "m.read", "m.read.private"]) {
      const eventId = ctx.body[type];
      if (eventId === undefined || eventId === null) continue;
      if (typeof eventId !== "string") throw badJson(`${type} must be an event id`);
      recordReceipt(ctx.hs, room, req.userId, type, eventId);
    }
    return {};
  });
}
