/**
 * The bridge's own HTTP listener for what the gatekeeper calls (docs/protocol.md §4.2):
 * `POST /_gki/v1/auth`, the partner authentication callback, `GET /health`, and the
 * partner media host (§11.4, `GET /_gki/v1/media/:token`, see ./media-host.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { NextFunction, Request, Response } from "express";
import { silentLogger } from "../gatekeeper/client/index.js";
import type { ClientLogger } from "../gatekeeper/client/index.js";
import { errorText } from "../gatekeeper/client/logger.js";

export const AUTH_PATH = "/_gki/v1/auth";

export interface PartnerEndpointsOptions {
  /** Our partner id: a callback for another partner's user is answered "not valid". */
  partnerId: string;
  /** The secret the gatekeeper presents as `Authorization: Bearer …`. */
  partnerSecret: string;
  /** The login with this account id and token: its phone number, or null. Constant time on the token. */
  verify(accountId: string, token: string): Promise<{ phone: string } | null>;
  port: number;
  bindAddress: string;
  logger?: ClientLogger;
  /** The partner media host's routes, when media is on. */
  media?: { router(): express.Router };
}

export interface PartnerEndpoints {
  /** http://address:port of the listener. */
  readonly url: string;
  close(): Promise<void>;
}

export function partnerApp(
  o: Omit<PartnerEndpointsOptions, "port" | "bindAddress">,
): express.Express {
  const logger = o.logger ?? silentLogger;
  const expectedSecret = digest(o.partnerSecret);
  const app = express();
  app.disable("x-powered-by");

  app.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.post(
    AUTH_PATH,
    (req, res, next) => {
      const header = req.get("authorization") ?? "";
      const presented = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
      if (!timingSafeEqual(digest(presented), expectedSecret)) {
        logger.warn("auth callback with a wrong partner secret refused", { ip: req.ip });
        res.status(401).json({ error: "unauthorized" });
        return;
      }
      next();
    },
    express.json({ limit: "4kb", type: () => true }),
    async (req: Request, res: Response) => {
      const body: unknown = req.body;
      const field = (name: string): string | undefined => {
        const v = isRecord(body) ? body[name] : undefined;
        return typeof v === "string" ? v : undefined;
      };
      const partnerId = field("partner_id");
      const accountId = field("account_id");
      const token = field("token");
      if (partnerId === undefined || accountId === undefined || token === undefined) {
        res.status(400).json({ error: "partner_id, account_id and token are required strings" });
        return;
      }
      try {
        const login = partnerId === o.partnerId ? await o.verify(accountId, token) : null;
        logger.debug("auth callback answered", { valid: login !== null });
        res.json(login ? { valid: true, phone: login.phone } : { valid: false });
      } catch (err) {
        logger.error("auth callback failed", { error: errorText(err) });
        res.status(500).json({ error: "internal" });
      }
    },
  );

  if (o.media) app.use(o.media.router());

  app.use((_req, res) => {
    res.status(404).json({ error: "not-found" });
  });
  // Malformed JSON and the like: a clear 400 rather than express's HTML page.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status =
      isRecord(err) && typeof err.status === "number" && err.status < 500 ? err.status : 500;
    res.status(status).json({ error: status === 500 ? "internal" : "bad-request" });
  });
  return app;
}

export async function startPartnerEndpoints(o: PartnerEndpointsOptions): Promise<PartnerEndpoints> {
  const app = partnerApp(o);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(o.port, o.bindAddress, () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = o.bindAddress.includes(":") ? `[${o.bindAddress}]` : o.bindAddress;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
