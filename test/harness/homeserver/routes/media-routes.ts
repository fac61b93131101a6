/** Content repository: upload, authenticated (v1.11) and legacy download, thumbnails, config. */
import { MatrixHttpError, notFound } from "../errors.js";
import type { MediaRecord } from "../media.js";
import { RawReply, me } from "../router.js";
import type { Ctx, Router } from "../router.js";

/** Types a browser may render inline (spec v1.12 Content-Disposition guidance). */
const INLINE_TYPES = new Set([
  "text/css",
  "text/plain",
  "text/csv",
  "application/json",
  "application/ld+json",
  "image/jpeg",
  "image/gif",
  "image/png",
  "image/apng",
  "image/webp",
  "image/avif",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "video/quicktime",
  "audio/mp4",
  "audio/webm",
  "audio/aac",
  "audio/mpeg",
  "audio/ogg",
  "audio/wave",
  "audio/wav",
  "audio/x-wav",
  "audio/x-pn-wav",
  "audio/flac",
  "audio/x-flac",
]);

function contentDisposition(rec: MediaRecord, fileName: string | undefined): string {
  const base = rec.contentType.split(";")[0]!.trim().toLowerCase();
  const kind = INLINE_TYPES.has(base) ? "inline" : "attachment";
  const name = fileName ?? rec.filename;
  return name === undefined ? kind : `${kind}; filename*=utf-8''${encodeURIComponent(name)}`;
}

function serve(ctx: Ctx): RawReply {
  const rec = ctx.hs.media.get(ctx.params.serverName!, ctx.params.mediaId!);
  if (!rec) throw notFound("Not found");
  return new RawReply(200, rec.data, {
    "Content-Type": rec.contentType,
    "Content-Disposition": contentDisposition(rec, ctx.params.fileName),
    "Content-Security-Policy":
      "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
    "Cross-Origin-Resource-Policy": "cross-origin",
  });
}

function thumbnail(ctx: Ctx): RawReply {
  const rec = ctx.hs.media.get(ctx.params.serverName!, ctx.params.mediaId!);
  if (!rec) throw notFound("Not found");
  // No image scaling here: an image is its own (largest) thumbnail; anything else has none.
  if (!rec.contentType.startsWith("image/")) {
    throw new MatrixHttpError(400, "M_UNKNOWN", "Cannot thumbnail this content type");
  }
  return new RawReply(200, rec.data, {
    "Content-Type": rec.contentType,
    "Content-Disposition": "inline",
  });
}

export function registerMediaRoutes(r: Router): void {
  r.route("POST", "/_matrix/media/v3/upload", { body: "raw" }, (ctx) => {
    const req = me(ctx);
    const contentType = ctx.req.headers["content-type"] ?? "application/octet-stream";
    const rec = ctx.hs.media.put(Buffer.from(ctx.raw), contentType, req.userId, ctx.query.filename);
    return { content_uri: ctx.hs.media.mxc(rec) };
  });

  const config = (ctx: Ctx): { "m.upload.size": number } => ({
    "m.upload.size": ctx.hs.media.maxUploadBytes,
  });
  r.route("GET", "/_matrix/client/v1/media/config", {}, config);
  r.route("GET", "/_matrix/media/v3/config", {}, config);

  // Authenticated media (spec v1.11): an access token is required.
  r.route("GET", "/_matrix/client/v1/media/download/:serverName/:mediaId", {}, serve);
  r.route("GET", "/_matrix/client/v1/media/download/:serverName/:mediaId/:fileName", {}, serve);
  r.route("GET", "/_matrix/client/v1/media/thumbnail/:serverName/:mediaId", {}, thumbnail);

  // Legacy unauthenticated media, still served (deprecated in v1.11).
  r.route("GET", "/_matrix/media/v3/download/:serverName/:mediaId", { auth: "none" }, serve);
  r.route(
    "GET",
    "/_matrix/media/v3/download/:serverName/:mediaId/:fileName",
    { auth: "none" },
    serve,
  );
  r.route("GET", "/_matrix/media/v3/thumbnail/:serverName/:mediaId", { auth: "none" }, thumbnail);
}
