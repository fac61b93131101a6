/** Sending and reading room events: send, state, redact, event, context, messages, members. */
import { badJson, forbidden, invalidParam, notFound } from "../errors.js";
import { formatEvent } from "../event-format.js";
import { stateKeyOf } from "../ids.js";
import type { Requester } from "../requester.js";
import { redactEvent, sendMessageEvent, sendStateEvent } from "../room-service.js";
import { me } from "../router.js";
import type { Ctx, Router } from "../router.js";
import type { JsonObject, StoredEvent } from "../types.js";
import { canSeeEvent, readableBound } from "../visibility.js";
import { eventMatchesFilter, parseToken } from "./tokens.js";

const CS = "/_matrix/client/v3";

/** `?ts=` (spec "Timestamp massaging") is honoured for application services only. */
function massagedTs(ctx: Ctx, req: Requester): number | undefined {
  const ts = ctx.query.ts;
  if (ts === undefined || !req.appService) return undefined;
  if (!/^\d+$/.test(ts)) throw invalidParam("ts must be a timestamp in milliseconds");
  return Number(ts);
}

const fmt = (ctx: Ctx, se: StoredEvent): JsonObject =>
  formatEvent(se, { viewerScope: ctx.requester?.txnScope });

export function registerEventRoutes(r: Router): void {
  r.route("PUT", `${CS}/rooms/:roomId/send/:eventType/:txnId`, {}, (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    const eventId = sendMessageEvent(
      ctx.hs,
      req,
      room,
      ctx.params.eventType!,
      ctx.body,
      { txnId: ctx.params.txnId!, path: ctx.req.path },
      massagedTs(ctx, req),
    );
    return { event_id: eventId };
  });

  r.route("PUT", `${CS}/rooms/:roomId/state/:eventType/:stateKey?`, {}, async (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    const eventId = await sendStateEvent(
      ctx.hs,
      req,
      room,
      ctx.params.eventType!,
      ctx.params.stateKey ?? "",
      ctx.body,
      massagedTs(ctx, req),
    );
    return { event_id: eventId };
  });

  r.route("GET", `${CS}/rooms/:roomId/state/:eventType/:stateKey?`, {}, (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    const { state } = readableBound(room, me(ctx).userId);
    const se = state.get(stateKeyOf(ctx.params.eventType!, ctx.params.stateKey ?? ""));
    if (!se) throw notFound("Event not found.");
    if (ctx.query.format === "event") return fmt(ctx, se);
    return formatEvent(se).content as JsonObject;
  });

  r.route("GET", `${CS}/rooms/:roomId/state`, {}, (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    const { state } = readableBound(room, me(ctx).userId);
    return [...state.values()].map((se) => fmt(ctx, se)) as unknown as JsonObject;
  });

  r.route("PUT", `${CS}/rooms/:roomId/redact/:eventId/:txnId`, { emptyBodyOk: true }, (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    const reason = ctx.body.reason;
    if (reason !== undefined && typeof reason !== "string")
      throw badJson("reason must be a string");
    const eventId = redactEvent(ctx.hs, me(ctx), room, ctx.params.eventId!, reason, {
      txnId: ctx.params.txnId!,
      path: ctx.req.path,
    });
    return { event_id: eventId };
  });

  r.route("GET", `${CS}/rooms/:roomId/event/:eventId`, {}, (ctx) => {
    const userId = me(ctx).userId;
    const room = ctx.hs.room(ctx.params.roomId!);
    const { upTo } = readableBound(room, userId);
    const se = room.get(ctx.params.eventId!);
    if (!se || se.stream > upTo || !canSeeEvent(room, se, userId))
      throw notFound("Could not find event");
    return fmt(ctx, se);
  });

  r.route("GET", `${CS}/rooms/:roomId/context/:eventId`, {}, (ctx) => {
    const userId = me(ctx).userId;
    const room = ctx.hs.room(ctx.params.roomId!);
    const { upTo } = readableBound(room, userId);
    const idx = room.events.findIndex((se) => se.event.event_id === ctx.params.eventId);
    const se = room.events[idx];
    if (!se || se.stream > upTo || !canSeeEvent(room, se, userId))
      throw notFound("Event not found.");
    const limit = Math.max(0, Math.min(Number(ctx.query.limit ?? 10), 100));
    const visible = (x: StoredEvent): boolean => x.stream <= upTo && canSeeEvent(room, x, userId);
    const before = room.events
      .slice(0, idx)
      .filter(visible)
      .slice(-Math.ceil(limit / 2))
      .reverse();
    const after = room.events
      .slice(idx + 1)
      .filter(visible)
      .slice(0, Math.floor(limit / 2));
    return {
      event: fmt(ctx, se),
      events_before: before.map((x) => fmt(ctx, x)),
      events_after: after.map((x) => fmt(ctx, x)),
      start: `s${(before.at(-1) ?? se).stream - 1}`,
      end: `s${(after.at(-1) ?? se).stream}`,
      state: [...se.stateBefore.values()].map((x) => fmt(ctx, x)),
    };
  });

  r.route("GET", `${CS}/rooms/:roomId/messages`, {}, (ctx) => {
    const userId = me(ctx).userId;
    const room = ctx.hs.room(ctx.params.roomId!);
    const { upTo } = readableBound(room, userId);
    const dir = ctx.query.dir;
    if (dir !== "b" && dir !== "f") throw invalidParam("dir must be 'b' or 'f'");
    const limit = Math.max(1, Math.min(Number(ctx.query.limit ?? 10) || 10, 1000));
    let filter: JsonObject = {};
    if (ctx.query.filter !== undefined) {
      try {
        filter = JSON.parse(ctx.query.filter) as JsonObject;
      } catch {
        throw badJson("filter is not JSON");
      }
    }
    const from =
      ctx.query.from !== undefined
        ? parseToken(ctx.query.from)
        : dir === "b"
          ? ctx.hs.clock.position
          : 0;
    const to = ctx.query.to !== undefined ? parseToken(ctx.query.to) : undefined;
    const chunk: StoredEvent[] = [];
    let more = false;
    const ok = (se: StoredEvent): boolean =>
      se.stream <= upTo && canSeeEvent(room, se, userId) && eventMatchesFilter(se, filter);
    if (dir === "b") {
      for (let i = room.lastIndexAtOrBefore(from); i >= 0; i--) {
        const se = room.events[i]!;
        if (to !== undefined && se.stream <= to) break;
        if (!ok(se)) continue;
        if (chunk.length === limit) {
          more = true;
          break;
        }
        chunk.push(se);
      }
    } else {
      for (let i = room.lastIndexAtOrBefore(from) + 1; i < room.events.length; i++) {
        const se = room.events[i]!;
        if (se.stream > upTo || (to !== undefined && se.stream > to)) break;
        if (!ok(se)) continue;
        if (chunk.length === limit) {
          more = true;
          break;
        }
        chunk.push(se);
      }
    }
    const out: JsonObject = { chunk: chunk.map((se) => fmt(ctx, se)), start: `s${from}` };
    const last = chunk.at(-1);
    if (last && (more || dir === "f"))
      out.end = dir === "b" ? `s${last.stream - 1}` : `s${last.stream}`;
    return out;
  });

  r.route("GET", `${CS}/rooms/:roomId/members`, {}, (ctx) => {
    const room = ctx.hs.room(ctx.params.roomId!);
    let { state } = readableBound(room, me(ctx).userId);
    if (ctx.query.at !== undefined) state = room.stateAtStream(parseToken(ctx.query.at));
    const chunk = [...state.values()]
      .filter((se) => se.event.type === "m.room.member")
      .filter(
        (se) =>
          ctx.query.membership === undefined ||
          se.event.content.membership === ctx.query.membership,
      )
      .filter(
        (se) =>
          ctx.query.not_membership === undefined ||
          se.event.content.membership !== ctx.query.not_membership,
      );
    return { chunk: chunk.map((se) => fmt(ctx, se)) };
  });

  r.route("GET", `${CS}/rooms/:roomId/joined_members`, {}, (ctx) => {
    const req = me(ctx);
    const room = ctx.hs.room(ctx.params.roomId!);
    const joined = room.members("join");
    // An application service may ask as long as any of its users is in the room.
    const allowed = req.appService
      ? joined.some((u) => req.appService!.isInterestedInUser(u))
      : room.membership(req.userId) === "join";
    if (!allowed) throw forbidden("You aren't a member of the room");
    const out: Record<string, JsonObject> = {};
    for (const userId of joined) {
      const c = room.stateEvent("m.room.member", userId)!.event.content;
      out[userId] = {
        display_name: typeof c.displayname === "string" ? c.displayname : null,
        avatar_url: typeof c.avatar_url === "string" ? c.avatar_url : null,
      };
    }
    return { joined: out };
  });
}
