/** GET /sync: initial and incremental, long-polling until something changes or `timeout` passes. */
import { badJson, invalidParam } from "../errors.js";
import { presenceContent } from "../ephemeral.js";
import { me } from "../router.js";
import type { Router } from "../router.js";
import { buildSync } from "../sync.js";
import type { JsonObject } from "../types.js";
import { parseToken } from "./tokens.js";

const CS = "/_matrix/client/v3";
const MAX_TIMEOUT_MS = 5 * 60_000;

export function registerSyncRoutes(r: Router): void {
  r.route("GET", `${CS}/sync`, {}, async (ctx) => {
    const req = me(ctx);
    const { hs, query } = ctx;
    let filter: JsonObject = {};
    if (query.filter !== undefined) {
      if (query.filter.startsWith("{")) {
        try {
          filter = JSON.parse(query.filter) as JsonObject;
        } catch {
          throw badJson("filter is not valid JSON");
        }
      } else {
        const stored = hs.users.get(req.userId)?.filters.get(query.filter);
        if (!stored) throw invalidParam("No such filter");
        filter = stored;
      }
    }
    const since = query.since !== undefined ? parseToken(query.since) : undefined;
    const fullState = query.full_state === "true";
    const timeout = Math.min(Math.max(Number(query.timeout ?? 0) || 0, 0), MAX_TIMEOUT_MS);
    const setPresence = query.set_presence ?? "online";
    if (setPresence !== "online" && setPresence !== "offline" && setPresence !== "unavailable") {
      throw invalidParam("set_presence must be online, offline or unavailable");
    }
    // Syncing marks an offline user present, as on Synapse; a state the user set explicitly
    // (unavailable) is not overridden by the next sync, and only a change is announced.
    const current = hs.presence.get(req.userId)?.presence ?? "offline";
    if (setPresence !== "offline" && current === "offline") {
      const rec = hs.presence.set(req.userId, setPresence, hs.presence.get(req.userId)?.statusMsg);
      hs.pushPresence(req.userId, {
        type: "m.presence",
        sender: req.userId,
        content: presenceContent(rec),
      });
    }
    const deadline = Date.now() + timeout;
    for (;;) {
      const pos = hs.clock.position;
      const { body, empty } = buildSync(hs, req, { since, fullState, filter });
      if (since === undefined || fullState || !empty || hs.closed || ctx.signal.aborted)
        return body;
      const left = deadline - Date.now();
      if (left <= 0) return body;
      await hs.clock.waitBeyond(pos, left, ctx.signal);
    }
  });
}
