/** Profile, account data, filters, push rules, presence. */
import { MatrixHttpError, badJson, forbidden, invalidParam, notFound } from "../errors.js";
import { presenceContent } from "../ephemeral.js";
import { parseUserId } from "../ids.js";
import { defaultPushRules } from "../push-rules.js";
import { propagateProfile } from "../room-service.js";
import { me } from "../router.js";
import type { Ctx, Router } from "../router.js";
import type { JsonObject } from "../types.js";

const CS = "/_matrix/client/v3";

async function profileOf(ctx: Ctx, userId: string): Promise<JsonObject> {
  const { hs } = ctx;
  if (!parseUserId(userId)) throw invalidParam("Invalid user id");
  if (!hs.users.isLocal(userId)) throw notFound("Profile was not found");
  if (!hs.users.exists(userId)) await hs.queryAppServicesForUser(userId);
  const user = hs.users.get(userId);
  if (!user) throw notFound("Profile was not found");
  // Synapse's answer for a user with neither a display name nor an avatar.
  if (user.displayname === undefined && user.avatar_url === undefined) {
    throw notFound("Profile was not found");
  }
  const out: JsonObject = {};
  if (user.displayname !== undefined) out.displayname = user.displayname;
  if (user.avatar_url !== undefined) out.avatar_url = user.avatar_url;
  return out;
}

function selfOnly(ctx: Ctx, what: string): string {
  const req = me(ctx);
  if (ctx.params.userId !== req.userId) throw forbidden(`Cannot ${what} for other users.`);
  return req.userId;
}

function roomIdParam(ctx: Ctx): string {
  const roomId = ctx.params.roomId!;
  if (!roomId.startsWith("!") || !roomId.includes(":"))
    throw invalidParam(`${roomId} is not a valid room ID`);
  return roomId;
}

export function registerUserDataRoutes(r: Router): void {
  r.route("GET", `${CS}/profile/:userId`, { auth: "optional" }, (ctx) =>
    profileOf(ctx, ctx.params.userId!),
  );

  for (const field of ["displayname", "avatar_url"] as const) {
    r.route("GET", `${CS}/profile/:userId/${field}`, { auth: "optional" }, async (ctx) => {
      const p = await profileOf(ctx, ctx.params.userId!);
      return field in p ? { [field]: p[field] } : {};
    });

    r.route("PUT", `${CS}/profile/:userId/${field}`, {}, (ctx) => {
      const req = me(ctx);
      if (ctx.params.userId !== req.userId) throw forbidden(`Cannot set another user's ${field}`);
      const value = ctx.body[field];
      if (value !== undefined && value !== null && typeof value !== "string") {
        throw badJson(`${field} must be a string`);
      }
      if (field === "displayname" && typeof value === "string" && value.length > 256) {
        throw new MatrixHttpError(400, "M_TOO_LARGE", "Display name is too long");
      }
      if (
        field === "avatar_url" &&
        typeof value === "string" &&
        value !== "" &&
        !value.startsWith("mxc://")
      ) {
        throw badJson("avatar_url must be an mxc:// URI");
      }
      const user = ctx.hs.users.get(req.userId)!;
      if (typeof value === "string" && value !== "") user[field] = value;
      else delete user[field];
      propagateProfile(ctx.hs, req.userId);
      return {};
    });
  }

  r.route("GET", `${CS}/user/:userId/account_data/:type`, {}, (ctx) => {
    const userId = selfOnly(ctx, "get account data");
    const content = ctx.hs.accountData.getGlobal(userId, ctx.params.type!);
    if (!content) throw notFound("Account data not found");
    return content;
  });

  r.route("PUT", `${CS}/user/:userId/account_data/:type`, {}, (ctx) => {
    const userId = selfOnly(ctx, "add account data");
    if (ctx.params.type === "m.push_rules") {
      throw new MatrixHttpError(400, "M_BAD_JSON", "Cannot set m.push_rules through this API");
    }
    ctx.hs.accountData.setGlobal(userId, ctx.params.type!, ctx.body);
    return {};
  });

  r.route("GET", `${CS}/user/:userId/rooms/:roomId/account_data/:type`, {}, (ctx) => {
    const userId = selfOnly(ctx, "get account data");
    const content = ctx.hs.accountData.getRoom(userId, roomIdParam(ctx), ctx.params.type!);
    if (!content) throw notFound("Room account data not found");
    return content;
  });

  r.route("PUT", `${CS}/user/:userId/rooms/:roomId/account_data/:type`, {}, (ctx) => {
    const userId = selfOnly(ctx, "add account data");
    const roomId = roomIdParam(ctx);
    if (ctx.params.type === "m.fully_read") {
      throw new MatrixHttpError(
        405,
        "M_BAD_JSON",
        "Cannot set m.fully_read through this API; use /read_markers",
      );
    }
    ctx.hs.accountData.setRoom(userId, roomId, ctx.params.type!, ctx.body);
    return {};
  });

  r.route("POST", `${CS}/user/:userId/filter`, {}, (ctx) => {
    const userId = selfOnly(ctx, "create filters");
    return { filter_id: ctx.hs.users.addFilter(userId, ctx.body) };
  });

  r.route("GET", `${CS}/user/:userId/filter/:filterId`, {}, (ctx) => {
    const userId = selfOnly(ctx, "get filters");
    const filter = ctx.hs.users.get(userId)?.filters.get(ctx.params.filterId!);
    if (!filter) throw notFound("No such filter");
    return filter;
  });

  r.route("GET", `${CS}/pushrules/`, {}, (ctx) => defaultPushRules(me(ctx).userId));
  r.route("GET", `${CS}/pushrules/global/`, {}, (ctx) => {
    return (defaultPushRules(me(ctx).userId).global as JsonObject) ?? {};
  });

  r.route("PUT", `${CS}/presence/:userId/status`, {}, (ctx) => {
    const req = me(ctx);
    if (ctx.params.userId !== req.userId) throw forbidden("Can only set your own presence state");
    const { presence, status_msg } = ctx.body;
    if (presence !== "online" && presence !== "offline" && presence !== "unavailable") {
      throw invalidParam("presence must be online, offline or unavailable");
    }
    if (status_msg !== undefined && status_msg !== null && typeof status_msg !== "string") {
      throw badJson("status_msg must be a string");
    }
    const rec = ctx.hs.presence.set(
      req.userId,
      presence,
      typeof status_msg === "string" ? status_msg : undefined,
    );
    ctx.hs.pushPresence(req.userId, {
      type: "m.presence",
      sender: req.userId,
      content: presenceContent(rec),
    });
    return {};
  });

  r.route("GET", `${CS}/presence/:userId/status`, {}, (ctx) => {
    const userId = ctx.params.userId!;
    if (!ctx.hs.users.exists(userId)) throw notFound("Unknown user");
    return presenceContent(ctx.hs.presence.get(userId));
  });
}
