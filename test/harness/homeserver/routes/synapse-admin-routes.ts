/**
 * Synapse's shared-secret registration (/_synapse/admin/v1/register), not part of the Matrix
 * spec. It exists only when the harness is given a shared secret, so that the real-homeserver
 * path of test/harness/target.ts can be tested here.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { MatrixHttpError, badJson, forbidden } from "../errors.js";
import { assertUsernameAvailable } from "../registration.js";
import type { Router } from "../router.js";

const NONCE_TTL_MS = 60_000;

export function registerSynapseAdminRoutes(r: Router, sharedSecret: string): void {
  const nonces = new Map<string, number>();

  r.route("GET", "/_synapse/admin/v1/register", { auth: "none" }, () => {
    const nonce = randomBytes(16).toString("hex");
    nonces.set(nonce, Date.now());
    return { nonce };
  });

  r.route("POST", "/_synapse/admin/v1/register", { auth: "none" }, (ctx) => {
    const { nonce, username, password, admin, user_type, mac, displayname } = ctx.body;
    if (typeof nonce !== "string") throw badJson("nonce must be specified");
    const issued = nonces.get(nonce);
    nonces.delete(nonce);
    if (issued === undefined || Date.now() - issued > NONCE_TTL_MS) {
      throw new MatrixHttpError(400, "M_UNKNOWN", "unrecognised nonce");
    }
    if (typeof username !== "string" || username === "") throw badJson("Invalid username");
    if (typeof password !== "string") throw badJson("Invalid password");
    if (typeof mac !== "string") throw badJson("mac must be specified");
    const h = createHmac("sha1", sharedSecret);
    h.update(nonce).update("\x00").update(username).update("\x00").update(password).update("\x00");
    h.update(admin === true ? "admin" : "notadmin");
    if (typeof user_type === "string") h.update("\x00").update(user_type);
    const want = Buffer.from(h.digest("hex"));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got))
      throw forbidden("HMAC incorrect");
    const localpart = username.toLowerCase();
    assertUsernameAvailable(ctx.hs, localpart);
    const user = ctx.hs.users.create(localpart, { password });
    if (typeof displayname === "string") user.displayname = displayname;
    const t = ctx.hs.users.issueToken(user.userId);
    return {
      access_token: t.accessToken,
      user_id: user.userId,
      home_server: ctx.hs.serverName,
      device_id: t.deviceId,
    };
  });
}
