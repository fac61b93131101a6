/** POST /_matrix/client/v1/appservice/{appserviceId}/ping: the homeserver pings the AS (spec v1.7). */
import { MatrixHttpError, forbidden } from "../errors.js";
import { me } from "../router.js";
import type { Router } from "../router.js";

export function registerAppServiceRoutes(r: Router): void {
  r.route(
    "POST",
    "/_matrix/client/v1/appservice/:appserviceId/ping",
    { emptyBodyOk: true },
    async (ctx) => {
      const as = me(ctx).appService;
      if (!as || as.id !== ctx.params.appserviceId) {
        throw forbidden("Provided access token is not the application service's as_token");
      }
      if (!as.url)
        throw new MatrixHttpError(400, "M_URL_NOT_SET", "Application service URL is not set");
      const body: Record<string, unknown> = {};
      if (typeof ctx.body.transaction_id === "string")
        body.transaction_id = ctx.body.transaction_id;
      const started = Date.now();
      let res: Response;
      try {
        res = await fetch(as.url.replace(/\/+$/, "") + "/_matrix/app/v1/ping", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${as.hsToken}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (err) {
        if (err instanceof Error && err.name === "TimeoutError") {
          throw new MatrixHttpError(
            504,
            "M_CONNECTION_TIMEOUT",
            "Connection to application service timed out",
          );
        }
        throw new MatrixHttpError(
          502,
          "M_CONNECTION_FAILED",
          "Connection to application service failed",
        );
      }
      const text = await res.text();
      if (!res.ok) {
        throw new MatrixHttpError(502, "M_BAD_STATUS", "Application service returned an error", {
          status: res.status,
          body: text,
        });
      }
      return { duration_ms: Date.now() - started };
    },
  );
}
