/**
 * The gatekeeper media host (docs/protocol.md §11.3, §11.4): native users
 * upload encrypted blobs, partners download them, and native users fetch
 * partner-hosted blobs through the proxy, which only talks to the registered
 * media origin of a partner they have a conversation or share a group with.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import express, { type Request, type Response, type Router } from "express";
import type { SandboxContext } from "./context.js";
import type { MediaGrant } from "./media-tokens.js";

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

function bearer(ctx: SandboxContext, req: Request): MediaGrant {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const grant = match?.[1] === undefined ? null : ctx.mediaTokens.check(match[1]);
  if (!grant) throw new HttpError(401, "invalid-token");
  return grant;
}

function decodeSha256(value: unknown): Buffer {
  if (typeof value !== "string" || !/^[A-Za-z0-9_\-+/]+={0,2}$/.test(value))
    throw new HttpError(400, "bad-enc-sha256");
  const digest = Buffer.from(
    value.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    "base64url",
  );
  if (digest.length !== 32) throw new HttpError(400, "bad-enc-sha256");
  return digest;
}

/** Reads a body up to `cap` bytes; more → 413. */
async function readCapped(
  stream: AsyncIterable<Uint8Array>,
  cap: number,
  onOver?: () => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > cap) {
      onOver?.();
      throw new HttpError(413, "too-large");
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, total);
}

function declaredLength(value: string | null | undefined): number | null {
  if (value === null || value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}

function sameDigest(blob: Buffer, expected: Buffer): boolean {
  return timingSafeEqual(createHash("sha256").update(blob).digest(), expected);
}

async function upload(ctx: SandboxContext, req: Request, res: Response): Promise<void> {
  const grant = bearer(ctx, req);
  if (grant.kind !== "native") throw new HttpError(403, "partners-host-their-own-media");
  const expected = decodeSha256(req.headers["x-enc-sha256"]);
  const cap = ctx.limits.mediaMaxBytes;
  const length = declaredLength(req.headers["content-length"]);
  if (length !== null && length > cap) throw new HttpError(413, "too-large");
  const blob = await readCapped(req, cap);
  if (!sameDigest(blob, expected)) throw new HttpError(400, "enc-sha256-mismatch");
  const id = randomBytes(18).toString("base64url");
  await ctx.store.blobs.put(id, blob);
  await ctx.store.media.add({
    id,
    owner: grant.jid,
    size: blob.length,
    encSha256: expected.toString("base64url"),
    createdAt: ctx.now(),
  });
  const directPath = `/media/d/${id}`;
  res.status(201).json({ url: `${ctx.mediaHost()}${directPath}`, direct_path: directPath });
}

async function download(ctx: SandboxContext, req: Request, res: Response): Promise<void> {
  bearer(ctx, req);
  const id = req.params.id ?? "";
  const record = /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await ctx.store.media.get(id) : null;
  const blob = record ? await ctx.store.blobs.get(id) : null;
  if (!blob) throw new HttpError(404, "not-found");
  res.status(200).type("application/octet-stream").send(blob);
}

/**
 * True if `url` is on the registered media origin of a partner one of whose users the user
 * has talked to or is in a group with (a group message's media is fetched by every member).
 */
async function allowedOrigin(ctx: SandboxContext, jid: string, url: URL): Promise<boolean> {
  const partners = (await ctx.store.partners.list()).filter((p) => {
    if (p.mediaOrigin === null || p.suspended) return false;
    try {
      return new URL(p.mediaOrigin).origin === url.origin;
    } catch {
      return false;
    }
  });
  if (partners.length === 0) return false;
  const peers = [
    ...(await ctx.store.contacts.peersOf(jid)),
    ...(await ctx.store.groups.coMembersOf(jid)),
  ];
  return partners.some((p) =>
    peers.some((peer) => peer.startsWith(`${p.id}.`) && peer.endsWith("@interop")),
  );
}

async function proxy(ctx: SandboxContext, req: Request, res: Response): Promise<void> {
  const grant = bearer(ctx, req);
  if (grant.kind !== "native") throw new HttpError(403, "native-users-only");
  const expected = decodeSha256(req.query.enc_sha256);
  let url: URL;
  try {
    url = new URL(typeof req.query.url === "string" ? req.query.url : "");
  } catch {
    throw new HttpError(400, "bad-url");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new HttpError(400, "bad-url");
  if (!(await allowedOrigin(ctx, grant.jid, url))) throw new HttpError(403, "origin-not-allowed");

  const cap = ctx.limits.mediaMaxBytes;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ctx.limits.mediaProxyTimeoutMs);
  try {
    let upstream: globalThis.Response;
    try {
      // No redirects: they could lead away from the registered origin.
      upstream = await fetch(url, { redirect: "error", signal: abort.signal });
    } catch {
      throw new HttpError(502, "upstream-unreachable");
    }
    if (upstream.status !== 200 || !upstream.body) {
      await upstream.body?.cancel().catch(() => undefined);
      throw new HttpError(502, "upstream-status");
    }
    const length = declaredLength(upstream.headers.get("content-length"));
    if (length !== null && length > cap) {
      abort.abort();
      throw new HttpError(413, "too-large");
    }
    let blob: Buffer;
    try {
      // Read as it streams in, stopping at the cap; held until the hash is known, so a bad blob is never passed on.
      blob = await readCapped(upstream.body, cap, () => abort.abort());
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(502, "upstream-failed");
    }
    if (!sameDigest(blob, expected)) throw new HttpError(502, "enc-sha256-mismatch");
    res.status(200).type("application/octet-stream").send(blob);
  } finally {
    clearTimeout(timer);
  }
}

type Handler = (ctx: SandboxContext, req: Request, res: Response) => Promise<void>;

export function mediaRouter(ctx: SandboxContext): Router {
  const router = express.Router();
  const wrap =
    (handler: Handler) =>
    (req: Request, res: Response): void => {
      handler(ctx, req, res).catch((err: unknown) => {
        if (res.headersSent) return;
        if (err instanceof HttpError) {
          // The client may still be sending an oversized body; close rather than read it all.
          if (err.status === 413) res.setHeader("connection", "close");
          res.status(err.status).json({ error: err.code });
          return;
        }
        ctx.logger.error("media request failed", { path: req.path, error: String(err) });
        res.status(500).json({ error: "internal" });
      });
    };
  router.post("/upload", wrap(upload));
  router.get("/d/:id", wrap(download));
  router.get("/proxy", wrap(proxy));
  return router;
}
