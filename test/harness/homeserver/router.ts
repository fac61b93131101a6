/**
 * The HTTP frame around every endpoint: access tokens (header or query), application service
 * masquerading, injected rate limits, JSON bodies, Matrix error responses, and 404/405
 * M_UNRECOGNIZED for unknown endpoints and methods.
 */
import express from "express";
import type { NextFunction, Request, Response } from "express";
import {
  MatrixHttpError,
  forbidden,
  limitExceeded,
  missingToken,
  unknownToken,
  unrecognized,
} from "./errors.js";
import type { Homeserver } from "./homeserver.js";
import type { Requester } from "./requester.js";
import type { JsonObject } from "./types.js";

export type Method = "GET" | "PUT" | "POST" | "DELETE";

export interface RouteOptions {
  /** "required" (default), "optional", or "none". */
  auth?: "required" | "optional" | "none";
  /** How to read the request body: JSON object (default for PUT/POST), raw bytes, or none. */
  body?: "json" | "raw" | "none";
  /** Accept an empty body as `{}` (endpoints whose body is optional in the spec). */
  emptyBodyOk?: boolean;
}

export interface Ctx {
  hs: Homeserver;
  req: Request;
  res: Response;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: JsonObject;
  raw: Buffer;
  /** Present when auth is "required", or "optional" and a token was given. */
  requester: Requester | undefined;
  /** The access token presented, if any (also for auth "none"). */
  accessToken: string | undefined;
  /** Aborted when the client goes away (long-polls stop waiting). */
  signal: AbortSignal;
}

export class RawReply {
  constructor(
    readonly status: number,
    readonly data: Buffer,
    readonly headers: Record<string, string>,
  ) {}
}

export type Handler = (ctx: Ctx) => Promise<JsonObject | RawReply> | JsonObject | RawReply;

export function me(ctx: Ctx): Requester {
  if (!ctx.requester) throw missingToken();
  return ctx.requester;
}

function accessTokenOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer (.+)$/.exec(header);
    return m ? m[1] : undefined;
  }
  const q = req.query.access_token;
  return typeof q === "string" ? q : undefined;
}

function authenticate(hs: Homeserver, token: string, query: Ctx["query"]): Requester {
  const as = hs.appServices.byToken(token);
  if (as) {
    const userId = query.user_id ?? as.senderUserId;
    if (!as.isInterestedInUser(userId)) {
      throw forbidden(`Application service cannot masquerade as this user (${userId}).`);
    }
    if (!hs.users.exists(userId)) {
      throw forbidden(`Application service has not registered this user (${userId})`);
    }
    return { userId, accessToken: token, appService: as, txnScope: `as:${as.id}|${userId}` };
  }
  const rec = hs.users.lookupToken(token);
  if (!rec) throw unknownToken();
  return {
    userId: rec.userId,
    deviceId: rec.deviceId,
    accessToken: token,
    txnScope: `device:${rec.userId}|${rec.deviceId}`,
  };
}

function sendError(res: Response, err: unknown, internalErrors: unknown[]): void {
  if (res.headersSent) return;
  if (err instanceof MatrixHttpError) {
    res.status(err.status).set(err.headers).json(err.toJSON());
    return;
  }
  internalErrors.push(err);
  res.status(500).json({ errcode: "M_UNKNOWN", error: "Internal server error" });
}

/** One handled request, for harness tests and debugging (no bodies, no tokens). */
export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  errcode?: string;
  userId?: string;
  at: number;
}

const MAX_LOG = 5_000;

export class Router {
  readonly app = express();
  private readonly paths = new Set<string>();
  readonly internalErrors: unknown[] = [];
  readonly requestLog: RequestLogEntry[] = [];

  constructor(private readonly hs: Homeserver) {
    this.app.disable("x-powered-by");
    this.app.set("query parser", "simple");
    this.app.use((req: Request, res: Response, next: NextFunction) => {
      const at = Date.now();
      const json = res.json.bind(res);
      res.json = (b: unknown) => {
        const errcode = (b as { errcode?: unknown } | null)?.errcode;
        if (typeof errcode === "string") res.locals.errcode = errcode;
        return json(b);
      };
      res.on("finish", () => {
        if (this.requestLog.length >= MAX_LOG) this.requestLog.shift();
        const entry: RequestLogEntry = {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          at,
        };
        if (typeof res.locals.errcode === "string") entry.errcode = res.locals.errcode;
        if (typeof res.locals.userId === "string") entry.userId = res.locals.userId;
        this.requestLog.push(entry);
      });
      next();
    });
    this.app.use((req: Request, res: Response, next: NextFunction) => {
      // Browsers and the js-sdk may send CORS preflights; Synapse answers them for every path.
      res.set({
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, Date",
      });
      if (req.method === "OPTIONS") {
        res.status(200).json({});
        return;
      }
      next();
    });
  }

  route(method: Method, path: string, opts: RouteOptions, handler: Handler): void {
    this.paths.add(path);
    const bodyMode = opts.body ?? (method === "PUT" || method === "POST" ? "json" : "none");
    const rawParser = express.raw({
      type: () => true,
      limit: bodyMode === "raw" ? this.hs.media.maxUploadBytes : 1_000_000,
    });
    const run = async (req: Request, res: Response): Promise<void> => {
      const abort = new AbortController();
      res.on("close", () => abort.abort());
      const query: Ctx["query"] = {};
      for (const [k, v] of Object.entries(req.query)) if (typeof v === "string") query[k] = v;
      const token = accessTokenOf(req);
      const auth = opts.auth ?? "required";
      let requester: Requester | undefined;
      if (auth !== "none") {
        if (token === undefined) {
          if (auth === "required") throw missingToken();
        } else {
          requester = authenticate(this.hs, token, query);
          res.locals.userId = requester.userId;
        }
      }
      const limited = this.hs.rateLimiter.check({
        method: req.method,
        path: req.path,
        userId: requester?.userId,
        exemptAppService: requester?.appService !== undefined && !requester.appService.rateLimited,
      });
      if (limited?.reset) {
        req.socket.destroy();
        return;
      }
      if (limited) throw limitExceeded(limited.retryAfterMs, limited.header);
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let body: JsonObject = {};
      if (bodyMode === "json") body = parseJsonObject(raw, opts.emptyBodyOk === true);
      const result = await handler({
        hs: this.hs,
        req,
        res,
        params: req.params as Record<string, string>,
        query,
        body,
        raw,
        requester,
        accessToken: token,
        signal: abort.signal,
      });
      if (res.headersSent) return;
      if (result instanceof RawReply) {
        res.status(result.status).set(result.headers).end(result.data);
      } else {
        res.status(200).json(result);
      }
    };
    const lower = method.toLowerCase() as "get" | "put" | "post" | "delete";
    this.app[lower](
      path,
      (req: Request, res: Response, next: NextFunction) => {
        if (bodyMode === "none") return next();
        rawParser(req, res, (err?: unknown) => {
          if (!err) return next();
          const type = (err as { type?: string }).type;
          const e =
            type === "entity.too.large"
              ? new MatrixHttpError(413, "M_TOO_LARGE", "Request body too large")
              : new MatrixHttpError(400, "M_UNKNOWN", "Could not read the request body");
          sendError(res, e, this.internalErrors);
        });
      },
      (req: Request, res: Response) => {
        run(req, res).catch((err: unknown) => sendError(res, err, this.internalErrors));
      },
    );
  }

  /** After all routes: 405 for known paths with another method, 404 for the rest. */
  finish(): void {
    for (const path of this.paths) {
      this.app.all(path, (_req: Request, res: Response) => sendError(res, unrecognized(405), []));
    }
    this.app.use((_req: Request, res: Response) => sendError(res, unrecognized(404), []));
  }
}

function parseJsonObject(raw: Buffer, emptyOk: boolean): JsonObject {
  if (raw.length === 0) {
    if (emptyOk) return {};
    throw new MatrixHttpError(400, "M_NOT_JSON", "Content not JSON.");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new MatrixHttpError(400, "M_NOT_JSON", "Content not JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new MatrixHttpError(400, "M_BAD_JSON", "Content must be a JSON object.");
  }
  return parsed as JsonObject;
}
