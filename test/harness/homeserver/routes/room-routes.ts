/** createRoom, membership endpoints, joined_rooms, and the room directory (aliases, visibility). */
import {
  MatrixHttpError,
  badJson,
  forbidden,
  invalidParam,
  missingParam,
  notFound,
} from "../errors.js";
import { parseRoomAlias } from "../ids.js";
import { readPowerLevels, stateContent, userPower } from "../room.js";
import {
  assertMayCreateAlias,
  changeMembership,
  createRoom,
  resolveRoom,
} from "../room-service.js";
import { me } from "../router.js";
import type { Ctx, Router } from "../router.js";
import type { JsonObject } from "../types.js";

const CS = "/_matrix/client/v3";

const reasonOf = (body: JsonObject): JsonObject =>
  typeof body.reason === "string" ? { reason: body.reason } : {};

function targetOf(ctx: Ctx): string {
  const t = ctx.body.user_id;
  if (t === undefined) throw missingParam("Missing user_id key");
  if (typeof t !== "string") throw badJson("user_id must be a string");
  return t;
}

export function registerRoomRoutes(r: Router): void {
  r.route("POST", `${CS}/createRoom`, {}, async (ctx) => {
    const roomId = await createRoom(ctx.hs, me(ctx), ctx.body);
    if (ctx.body.visibility === "public") ctx.hs.publishedRooms.add(roomId);
    return { room_id: roomId };
  });

  const join = async (ctx: Ctx, idOrAlias: string): Promise<JsonObject> => {
    const req = me(ctx);
    const room = await resolveRoom(ctx.hs, idOrAlias);
    await changeMembership(ctx.hs, req, room, req.userId, "join", reasonOf(ctx.body));
    return { room_id: room.roomId };
  };
  r.route("POST", `${CS}/join/:roomIdOrAlias`, { emptyBodyOk: true }, (ctx) =>
    join(ctx, ctx.params.roomIdOrAlias!),
  );
  r.route("POST", `${CS}/rooms/:roomId/join`, { emptyBodyOk: true }, (ctx) =>
    join(ctx, ctx.params.roomId!),
  );

  r.route("POST", `${CS}/rooms/:roomId/leave`, { emptyBodyOk: true }, async (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    await changeMembership(ctx.hs, req, room, req.userId, "leave", reasonOf(ctx.body));
    return {};
  });

  r.route("POST", `${CS}/rooms/:roomId/forget`, { emptyBodyOk: true }, (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    const m = room.membership(req.userId);
    if (m === "join" || m === "invite")
      throw new MatrixHttpError(400, "M_UNKNOWN", "User is in room");
    return {};
  });

  r.route("POST", `${CS}/rooms/:roomId/invite`, {}, async (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    await changeMembership(ctx.hs, me(ctx), room, targetOf(ctx), "invite", reasonOf(ctx.body));
    return {};
  });

  r.route("POST", `${CS}/rooms/:roomId/kick`, {}, async (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    const target = targetOf(ctx);
    const m = room.membership(target);
    if (m !== "join" && m !== "invite" && m !== "knock")
      throw forbidden(`${target} is not in the room`);
    await changeMembership(ctx.hs, me(ctx), room, target, "leave", reasonOf(ctx.body));
    return {};
  });

  r.route("POST", `${CS}/rooms/:roomId/ban`, {}, async (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    await changeMembership(ctx.hs, me(ctx), room, targetOf(ctx), "ban", reasonOf(ctx.body));
    return {};
  });

  r.route("POST", `${CS}/rooms/:roomId/unban`, {}, async (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    const target = targetOf(ctx);
    if (room.membership(target) !== "ban") throw forbidden(`${target} is not banned`);
    await changeMembership(ctx.hs, me(ctx), room, target, "leave", reasonOf(ctx.body));
    return {};
  });

  r.route("GET", `${CS}/joined_rooms`, {}, (ctx) => {
    const userId = me(ctx).userId;
    return {
      joined_rooms: ctx.hs
        .roomsOf(userId)
        .filter((room) => room.membership(userId) === "join")
        .map((room) => room.roomId),
    };
  });

  r.route("PUT", `${CS}/directory/room/:alias`, {}, (ctx) => {
    const req = me(ctx);
    const alias = ctx.params.alias!;
    const roomId = ctx.body.room_id;
    if (typeof roomId !== "string") throw missingParam("Missing room_id");
    const room = ctx.hs.room(roomId);
    // Synapse's default (require_membership_for_aliases); application services are exempt.
    if (!req.appService && room.membership(req.userId) !== "join") {
      throw forbidden("You must be in the room to create an alias for it");
    }
    assertMayCreateAlias(ctx.hs, req, alias);
    ctx.hs.aliases.set(alias, { roomId, creator: req.userId });
    return {};
  });

  r.route("GET", `${CS}/directory/room/:alias`, { auth: "optional" }, async (ctx) => {
    const alias = ctx.params.alias!;
    if (!parseRoomAlias(alias)) throw invalidParam("Invalid room alias");
    if (!ctx.hs.aliases.has(alias)) await ctx.hs.queryAppServicesForAlias(alias);
    const entry = ctx.hs.aliases.get(alias);
    if (!entry) throw notFound(`Room alias ${alias} not found`);
    return { room_id: entry.roomId, servers: [ctx.hs.serverName] };
  });

  r.route("DELETE", `${CS}/directory/room/:alias`, {}, (ctx) => {
    const req = me(ctx);
    const alias = ctx.params.alias!;
    const entry = ctx.hs.aliases.get(alias);
    if (!entry) throw notFound("Alias not found");
    const room = ctx.hs.rooms.get(entry.roomId);
    const isAdmin =
      room !== undefined &&
      userPower(readPowerLevels(room.state), req.userId) >= 50 &&
      room.membership(req.userId) === "join";
    const asOwns = req.appService?.isInterestedInAlias(alias) === true;
    if (entry.creator !== req.userId && !isAdmin && !asOwns)
      throw forbidden("You don't have permission to delete the alias.");
    ctx.hs.aliases.delete(alias);
    return {};
  });

  r.route("GET", `${CS}/rooms/:roomId/aliases`, {}, (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    if (room.membership(me(ctx).userId) !== "join") throw forbidden("You are not in the room");
    return {
      aliases: [...ctx.hs.aliases].filter(([, e]) => e.roomId === room.roomId).map(([a]) => a),
    };
  });

  r.route("GET", `${CS}/directory/list/room/:roomId`, { auth: "none" }, (ctx) => {
    ctx.hs.room(ctx.params.roomId!);
    return { visibility: ctx.hs.publishedRooms.has(ctx.params.roomId!) ? "public" : "private" };
  });

  r.route("PUT", `${CS}/directory/list/room/:roomId`, {}, (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    if (userPower(readPowerLevels(room.state), req.userId) < 50)
      throw forbidden("You don't have permission to publish the room");
    if (ctx.body.visibility === "public") ctx.hs.publishedRooms.add(room.roomId);
    else ctx.hs.publishedRooms.delete(room.roomId);
    return {};
  });

  r.route("PUT", `${CS}/directory/list/appservice/:networkId/:roomId`, {}, (ctx) => {
    if (!me(ctx).appService) throw forbidden("Only application services can use this endpoint");
    const room = ctx.hs.room(ctx.params.roomId!);
    if (ctx.body.visibility === "public") ctx.hs.publishedRooms.add(room.roomId);
    else ctx.hs.publishedRooms.delete(room.roomId);
    return {};
  });

  r.route("GET", `${CS}/publicRooms`, { auth: "optional" }, (ctx) => {
    const chunk = [...ctx.hs.publishedRooms].map((roomId) => {
      const room = ctx.hs.room(roomId);
      const entry: JsonObject = {
        room_id: roomId,
        num_joined_members: room.members("join").length,
        world_readable:
          stateContent(room.state, "m.room.history_visibility")?.history_visibility ===
          "world_readable",
        guest_can_join:
          stateContent(room.state, "m.room.guest_access")?.guest_access === "can_join",
        join_rule: stateContent(room.state, "m.room.join_rules")?.join_rule ?? "invite",
      };
      const name = stateContent(room.state, "m.room.name")?.name;
      if (typeof name === "string") entry.name = name;
      return entry;
    });
    return { chunk, total_room_count_estimate: chunk.length };
  });
}
