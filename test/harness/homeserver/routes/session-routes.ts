/** Versions, capabilities, registration, login, logout, whoami, devices. */
import { randomBytes } from "node:crypto";
import {
  MatrixHttpError,
  badJson,
  forbidden,
  missingParam,
  missingToken,
  notFound,
  unknownToken,
} from "../errors.js";
import { assertUsernameAvailable, generateLocalpart } from "../registration.js";
import { SUPPORTED_ROOM_VERSIONS, DEFAULT_ROOM_VERSION } from "../room-service.js";
import { me } from "../router.js";
import type { Ctx, Router } from "../router.js";
import type { JsonObject } from "../types.js";

const CS = "/_matrix/client/v3";

export const SPEC_VERSIONS = [
  "r0.0.1",
  "r0.1.0",
  "r0.2.0",
  "r0.3.0",
  "r0.4.0",
  "r0.5.0",
  "r0.6.0",
  "r0.6.1",
  "v1.1",
  "v1.2",
  "v1.3",
  "v1.4",
  "v1.5",
  "v1.6",
  "v1.7",
  "v1.8",
  "v1.9",
  "v1.10",
  "v1.11",
  "v1.12",
];

function loginResponse(ctx: Ctx, userId: string, inhibit: boolean, body: JsonObject): JsonObject {
  if (inhibit) return { user_id: userId, home_server: ctx.hs.serverName };
  const deviceId = typeof body.device_id === "string" ? body.device_id : undefined;
  const displayName =
    typeof body.initial_device_display_name === "string"
      ? body.initial_device_display_name
      : undefined;
  const t = ctx.hs.users.issueToken(userId, deviceId, displayName);
  return {
    user_id: userId,
    access_token: t.accessToken,
    device_id: t.deviceId,
    home_server: ctx.hs.serverName,
  };
}

function localpartFromIdentifier(ctx: Ctx, body: JsonObject): string {
  const id = body.identifier as JsonObject | undefined;
  let user: unknown = body.user;
  if (id && typeof id === "object") {
    if (id.type !== "m.id.user")
      throw new MatrixHttpError(400, "M_UNKNOWN", "Unknown login identifier type");
    user = id.user;
  }
  if (typeof user !== "string" || user === "")
    throw missingParam("User identifier is missing 'user' key");
  return user.startsWith("@") ? user : `@${user.toLowerCase()}:${ctx.hs.serverName}`;
}

export function registerSessionRoutes(r: Router): void {
  r.route("GET", "/_matrix/client/versions", { auth: "none" }, () => ({
    versions: SPEC_VERSIONS,
    unstable_features: {},
  }));

  r.route("GET", `${CS}/capabilities`, {}, () => ({
    capabilities: {
      "m.change_password": { enabled: false },
      "m.room_versions": {
        default: DEFAULT_ROOM_VERSION,
        available: Object.fromEntries(SUPPORTED_ROOM_VERSIONS.map((v) => [v, "stable"])),
      },
      "m.set_displayname": { enabled: true },
      "m.set_avatar_url": { enabled: true },
      "m.3pid_changes": { enabled: false },
      "m.get_login_token": { enabled: false },
    },
  }));

  r.route("GET", `${CS}/login`, { auth: "none" }, () => ({
    flows: [{ type: "m.login.password" }, { type: "m.login.application_service" }],
  }));

  r.route("POST", `${CS}/login`, { auth: "none" }, (ctx) => {
    const { body, hs } = ctx;
    const userId = localpartFromIdentifier(ctx, body);
    if (body.type === "m.login.password") {
      if (typeof body.password !== "string") throw missingParam("Missing password");
      if (!hs.users.checkPassword(userId, body.password))
        throw forbidden("Invalid username or password");
      return loginResponse(ctx, userId, false, body);
    }
    if (body.type === "m.login.application_service") {
      if (ctx.accessToken === undefined) throw missingToken();
      const as = hs.appServices.byToken(ctx.accessToken);
      if (!as) throw unknownToken();
      if (!as.isInterestedInUser(userId)) {
        throw new MatrixHttpError(400, "M_EXCLUSIVE", "Invalid user for this application service.");
      }
      if (!hs.users.exists(userId)) throw forbidden("Invalid username or password");
      return loginResponse(ctx, userId, false, body);
    }
    throw new MatrixHttpError(400, "M_UNKNOWN", "Unknown login type");
  });

  r.route("POST", `${CS}/register`, { auth: "none" }, (ctx) => {
    const { body, hs, query } = ctx;
    if ((query.kind ?? "user") !== "user") {
      throw new MatrixHttpError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
    }
    const inhibit = body.inhibit_login === true;
    if (body.type === "m.login.application_service") {
      if (ctx.accessToken === undefined) throw missingToken();
      const as = hs.appServices.byToken(ctx.accessToken);
      if (!as) throw unknownToken();
      if (typeof body.username !== "string") throw missingParam("Missing username");
      const userId = assertUsernameAvailable(hs, body.username, as);
      hs.users.create(body.username, { appServiceId: as.id });
      return loginResponse(ctx, userId, inhibit, body);
    }
    if (ctx.accessToken !== undefined && hs.appServices.byToken(ctx.accessToken)) {
      throw badJson("An application service must register with type m.login.application_service");
    }
    if (body.username !== undefined && typeof body.username !== "string")
      throw badJson("Invalid username");
    if (body.password !== undefined && typeof body.password !== "string")
      throw badJson("Invalid password");
    const localpart = typeof body.username === "string" ? body.username.toLowerCase() : undefined;
    if (localpart !== undefined) assertUsernameAvailable(hs, localpart);
    const auth = body.auth as JsonObject | undefined;
    if (!auth || auth.type !== "m.login.dummy") {
      // User-interactive authentication: the one stage this server offers.
      throw new MatrixHttpError(401, "M_FORBIDDEN", "Authentication required", {
        flows: [{ stages: ["m.login.dummy"] }],
        params: {},
        session: randomBytes(12).toString("base64url"),
        completed: [],
      });
    }
    const lp = localpart ?? generateLocalpart(hs);
    const userId = assertUsernameAvailable(hs, lp);
    hs.users.create(lp, body.password !== undefined ? { password: body.password as string } : {});
    return loginResponse(ctx, userId, inhibit, body);
  });

  r.route("GET", `${CS}/register/available`, { auth: "none" }, (ctx) => {
    const username = ctx.query.username;
    if (username === undefined) throw missingParam("Missing username");
    assertUsernameAvailable(ctx.hs, username.toLowerCase());
    return { available: true };
  });

  r.route("POST", `${CS}/logout`, { emptyBodyOk: true }, (ctx) => {
    const req = me(ctx);
    if (!req.appService) ctx.hs.users.revokeToken(req.accessToken);
    return {};
  });

  r.route("POST", `${CS}/logout/all`, { emptyBodyOk: true }, (ctx) => {
    const req = me(ctx);
    if (!req.appService) ctx.hs.users.revokeAll(req.userId);
    return {};
  });

  r.route("GET", `${CS}/account/whoami`, {}, (ctx) => {
    const req = me(ctx);
    const out: JsonObject = { user_id: req.userId, is_guest: false };
    if (req.deviceId !== undefined) out.device_id = req.deviceId;
    return out;
  });

  r.route("GET", `${CS}/devices`, {}, (ctx) => {
    const user = ctx.hs.users.get(me(ctx).userId);
    const devices = [...(user?.devices ?? [])].map(([id, d]) => ({
      device_id: id,
      display_name: d.displayName ?? null,
      last_seen_ts: d.lastSeenTs,
    }));
    return { devices };
  });

  r.route("GET", `${CS}/devices/:deviceId`, {}, (ctx) => {
    const d = ctx.hs.users.get(me(ctx).userId)?.devices.get(ctx.params.deviceId!);
    if (!d) throw notFound("No device found");
    return {
      device_id: ctx.params.deviceId,
      display_name: d.displayName ?? null,
      last_seen_ts: d.lastSeenTs,
    };
  });

  r.route("PUT", `${CS}/devices/:deviceId`, {}, (ctx) => {
    const d = ctx.hs.users.get(me(ctx).userId)?.devices.get(ctx.params.deviceId!);
    if (!d) throw notFound("No device found");
    if (typeof ctx.body.display_name === "string") d.displayName = ctx.body.display_name;
    return {};
  });
}
