import { createHash, timingSafeEqual } from "node:crypto";
import type { MediaConn } from "../stanza/index.js";
import { GatekeeperError } from "./errors.js";
import type { UploadedMedia } from "./types.js";

/** docs §15: the gatekeeper's media cap. */
export const MAX_MEDIA_BYTES = 100 * 1024 * 1024;
const DEFAULT_HTTP_TIMEOUT_MS = 120_000;

export interface DownloadOptions {
  /** SHA-256 of the blob as the message states it: checked here, and required for the proxy. */
  fileEncSha256?: Uint8Array;
  maxBytes?: number;
  timeoutMs?: number;
}

/**
 * Media over HTTP with the media_conn bearer token (docs §11.3, §11.4): uploads to the
 * gatekeeper's media host, downloads from it, and fetches partner-hosted blobs through the
 * gatekeeper's media proxy (a gatekeeper client never contacts a partner directly).
 */
export class MediaTransfer {
  constructor(private readonly mediaConn: (refresh: boolean) => Promise<MediaConn>) {}

  async upload(blob: Uint8Array, opts: { timeoutMs?: number } = {}): Promise<UploadedMedia> {
    // The gatekeeper would answer 413 (docs §15) only after the whole blob went up.
    if (blob.length > MAX_MEDIA_BYTES) {
      throw new GatekeeperError(
        "too-large",
        `the encrypted file is ${blob.length} bytes; the gatekeeper takes at most ${MAX_MEDIA_BYTES}`,
      );
    }
    const encSha256 = sha256(blob).toString("base64url");
    const response = await this.withToken(async (conn) =>
      fetchOrFail(`${trimSlash(conn.host)}/media/upload`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${conn.auth}`,
          "content-type": "application/octet-stream",
          "x-enc-sha256": encSha256,
        },
        body: blob,
        signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS),
      }),
    );
    if (response.status !== 201 && response.status !== 200)
      throw await httpError("upload", response);
    const body = (await response.json().catch(() => null)) as {
      url?: unknown;
      direct_path?: unknown;
    } | null;
    if (typeof body?.url !== "string" || typeof body.direct_path !== "string") {
      throw new GatekeeperError("protocol-error", "media upload answer lacks url / direct_path");
    }
    return { url: body.url, directPath: body.direct_path };
  }

  /**
   * Downloads a blob: a direct path or a URL on the gatekeeper's media host directly, any
   * other URL (a partner's media origin) through the proxy, which needs `fileEncSha256`.
   */
  async download(urlOrPath: string, opts: DownloadOptions = {}): Promise<Uint8Array> {
    const maxBytes = opts.maxBytes ?? MAX_MEDIA_BYTES;
    const response = await this.withToken(async (conn) => {
      const target = downloadUrl(conn.host, urlOrPath, opts.fileEncSha256);
      return fetchOrFail(target, {
        headers: { authorization: `Bearer ${conn.auth}` },
        signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS),
      });
    });
    if (response.status !== 200) throw await httpError("download", response);
    const blob = await readCapped(response, maxBytes);
    if (opts.fileEncSha256 !== undefined) {
      const actual = sha256(blob);
      if (
        actual.length !== opts.fileEncSha256.length ||
        !timingSafeEqual(actual, opts.fileEncSha256)
      ) {
        throw new GatekeeperError(
          "media-damaged",
          "downloaded media does not match its fileEncSha256",
        );
      }
    }
    return blob;
  }

  /** Runs a request; a 401 means the token expired: one more try with a fresh media_conn. */
  private async withToken(request: (conn: MediaConn) => Promise<Response>): Promise<Response> {
    const first = await request(await this.mediaConn(false));
    if (first.status !== 401) return first;
    await first.body?.cancel();
    return request(await this.mediaConn(true));
  }
}

/** Where to GET `urlOrPath` from, given the media host (exported for tests). */
export function downloadUrl(
  host: string,
  urlOrPath: string,
  fileEncSha256: Uint8Array | undefined,
): string {
  const base = trimSlash(host);
  if (urlOrPath.startsWith("/")) return `${base}${urlOrPath}`;
  let url: URL;
  try {
    url = new URL(urlOrPath);
  } catch {
    throw new GatekeeperError("bad-request", "media location is neither a path nor a URL");
  }
  if (url.origin === new URL(base).origin) return url.toString();
  if (fileEncSha256 === undefined) {
    throw new GatekeeperError(
      "bad-request",
      "fetching partner-hosted media through the proxy needs fileEncSha256",
    );
  }
  const query = new URLSearchParams({
    url: url.toString(),
    enc_sha256: Buffer.from(fileEncSha256).toString("base64url"),
  });
  return `${base}/media/proxy?${query.toString()}`;
}

async function fetchOrFail(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const timedOut =
      err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    throw new GatekeeperError(
      timedOut ? "timeout" : "media-failed",
      `media request failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new GatekeeperError("too-large", `media of ${declared} bytes exceeds ${maxBytes}`, {
      gkiCode: 413,
    });
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      total += chunk.length;
      if (total > maxBytes) {
        throw new GatekeeperError("too-large", `media exceeds ${maxBytes} bytes`, { gkiCode: 413 });
      }
      chunks.push(chunk);
    }
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

async function httpError(what: string, response: Response): Promise<GatekeeperError> {
  await response.body?.cancel();
  const status = response.status;
  const code =
    status === 413
      ? "too-large"
      : status === 404
        ? "not-found"
        : status === 403
          ? "forbidden"
          : "media-failed";
  return new GatekeeperError(code, `media ${what} failed with HTTP ${status}`, {
    httpStatus: status,
  });
}

function sha256(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

function trimSlash(s: string): string {
  return s.endsWith("/") ? s.slice(0, -1) : s;
}
