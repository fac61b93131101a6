/**
 * The admin API: JSON over HTTP under /admin, for tests, the demo and the
 * CLI. It is the sandbox's operator console, so it answers loopback clients only.
 *
 *   GET    /admin/info                           → { url, httpUrl, publicKey }
 *   POST   /admin/users {phone, name}            → { phone, jid, accountId, token }
 *   GET    /admin/users                          → [UserInfo]
 *   GET    /admin/users/:phone                   → UserInfo
 *   PATCH  /admin/users/:phone/settings {enabled, partners, inbox} → UserInfo
 *   POST   /admin/users/:phone/rotate-identity   → 204
 *   POST   /admin/users/:phone/token             → { phone, jid, accountId, token } (a new token)
 *   GET    /admin/partner-users                  → [PartnerUserInfo]
 *   GET    /admin/online                         → { partnerUsers, nativeUsers, replaced } (connected now; sessions replaced so far)
 *   GET    /admin/codes/:phone                   → { phone, code, expiresAt }
 *   GET    /admin/queues                         → [{ recipient, stanzas: [...] }]
 *   GET    /admin/groups                         → [GroupAdminInfo] (live groups, members in join order)
 *   GET    /admin/groups/:jid                    → GroupAdminInfo
 *   GET    /admin/partners                       → [PartnerInfo]
 *   POST   /admin/partners {id, authUrl, secret, mediaOrigin, suspended?} → PartnerInfo
 */
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { SandboxAdmin } from "./admin.js";
import { AdminError } from "./errors.js";
import type { SandboxLogger } from "./logger.js";

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

function body(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  return typeof b === "object" && b !== null && !Array.isArray(b)
    ? (b as Record<string, unknown>)
    : {};
}

function partnersField(value: unknown): string[] | "*" | undefined {
  if (value === undefined) return undefined;
  if (value === "*") return "*";
  if (typeof value === "string")
    return value
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "");
  if (Array.isArray(value)) return value as string[];
  throw new AdminError(
    400,
    "bad-partners",
    'partners must be "*", a comma list or an array of partner ids',
  );
}

export function adminRouter(admin: SandboxAdmin, logger: SandboxLogger): Router {
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (!isLoopback(req.socket.remoteAddress)) {
      res.status(403).json({ error: "loopback-only" });
      return;
    }
    next();
  });
  router.use(express.json({ limit: "64kb" }));

  const route =
    (handler: (req: Request, res: Response) => Promise<unknown>) =>
    (req: Request, res: Response): void => {
      handler(req, res)
        .then((result) => {
          if (res.headersSent) return;
          if (result === undefined) res.status(204).end();
          else res.status(req.method === "POST" ? 201 : 200).json(result);
        })
        .catch((err: unknown) => {
          if (err instanceof AdminError) {
            res.status(err.status).json({ error: err.code, message: err.message });
            return;
          }
          logger.error("admin request failed", { path: req.path, error: String(err) });
          res.status(500).json({ error: "internal" });
        });
    };
  const phone = (req: Request): string => req.params.phone ?? "";

  router.get(
    "/info",
    route(async () => admin.info()),
  );
  router.post(
    "/users",
    route(async (req) => {
      const b = body(req);
      return admin.addUser({
        phone: String(b.phone ?? ""),
        ...(typeof b.name === "string" ? { name: b.name } : {}),
      });
    }),
  );
  router.get(
    "/users",
    route(async () => admin.listUsers()),
  );
  router.get(
    "/users/:phone",
    route(async (req) => admin.getUser(phone(req))),
  );
  router.patch(
    "/users/:phone/settings",
    route(async (req) => {
      const b = body(req);
      const partners = partnersField(b.partners);
      return admin.updateSettings(phone(req), {
        ...(b.enabled === undefined ? {} : { enabled: b.enabled as boolean }),
        ...(partners === undefined ? {} : { partners }),
        ...(b.inbox === undefined ? {} : { inbox: b.inbox as "separate" | "combined" }),
      });
    }),
  );
  router.post(
    "/users/:phone/rotate-identity",
    route(async (req) => {
      await admin.rotateIdentity(phone(req));
      return undefined;
    }),
  );
  router.post(
    "/users/:phone/token",
    route(async (req) => admin.issueToken(phone(req))),
  );
  router.get(
    "/partner-users",
    route(async () => admin.listPartnerUsers()),
  );
  router.get(
    "/online",
    route(async () => admin.online()),
  );
  router.get(
    "/codes/:phone",
    route(async (req) => admin.latestCode(phone(req))),
  );
  router.get(
    "/queues",
    route(async () => admin.queues()),
  );
  router.get(
    "/groups",
    route(async () => admin.listGroups()),
  );
  router.get(
    "/groups/:jid",
    route(async (req) => admin.getGroup(req.params.jid ?? "")),
  );
  router.get(
    "/partners",
    route(async () => admin.listPartners()),
  );
  router.post(
    "/partners",
    route(async (req) => {
      const b = body(req);
      return admin.addPartner({
        id: String(b.id ?? ""),
        authUrl: String(b.authUrl ?? ""),
        secret: String(b.secret ?? ""),
        mediaOrigin: typeof b.mediaOrigin === "string" ? b.mediaOrigin : null,
        suspended: b.suspended === true,
      });
    }),
  );
  // Malformed JSON bodies and the like.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status =
      typeof err === "object" && err !== null && "status" in err && typeof err.status === "number"
        ? err.status
        : 500;
    res.status(status).json({ error: status === 400 ? "bad-json" : "internal" });
  });
  return router;
}
