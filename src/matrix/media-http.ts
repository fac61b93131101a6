/**
 * The homeserver's content repository, streamed: downloads through authenticated media
 * (`GET /_matrix/client/v1/media/download/{serverName}/{mediaId}`, spec v1.11, as the bridge
 * bot; the legacy `/_matrix/media/v3/download` only where the server has no authenticated
 * media) and uploads (`POST /_matrix/media/v3/upload` as the puppet, with Content-Length).
 * bot-sdk's client would buffer whole files, so these are plain HTTP requests.
 */
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { MediaLimitError, MediaUnavailableError } from "../core/media.js";
import type { MediaSource, OpenedMedia } from "../core/media.js";
import { withRateLimitRetry } from "./rate-limit.js";
import type { RateLimitOptions } from "./rate-limit.js";

const MXC = /^mxc:\/\/([^/?#]+)\/([A-Za-z0-9_-]+)$/;
/** A whole transfer may take this long (100 MB over a slow link). */
const TRANSFER_TIMEOUT_MS = 15 * 60_000;

export interface MatrixMediaHttpOptions {
  homeserverUrl: string;
  /** The registration's as_token (the bot without user_id; a puppet with it). */
  asToken: string;
  rateLimit?: RateLimitOptions;
}

/** A homeserver answer that is not a success, shaped so rate-limit.ts can read a 429. */
class HomeserverAnswer extends Error {
  constructor(
    readonly statusCode: number,
    readonly errcode: string | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`homeserver answered HTTP ${statusCode}${errcode ? ` ${errcode}` : ""}`);
    this.name = "HomeserverAnswer";
  }
}

export function parseMxc(uri: string): { serverName: string; mediaId: string } | undefined {
  const m = MXC.exec(uri);
  return m ? { serverName: m[1]!, mediaId: m[2]! } : undefined;
}

export class MatrixMediaHttp {
  private readonly base: string;
  /**
   * Whether the homeserver has authenticated media: unknown until its first answer, then
   * remembered (servers before spec v1.11, e.g. Synapse 1.67, answer the v1 path with
   * `400 M_UNRECOGNIZED`; others with 404).
   */
  private authenticatedMedia: boolean | undefined;

  constructor(private readonly o: MatrixMediaHttpOptions) {
    this.base = o.homeserverUrl.replace(/\/+$/, "");
  }

  /** Streams an mxc:// URI as the bot. The size is the Content-Length when the server gives one. */
  async download(uri: string): Promise<OpenedMedia> {
    const mxc = parseMxc(uri);
    if (!mxc) {
      throw new MediaUnavailableError(
        "not-found",
        "the message does not point at a valid mxc:// file",
        {
          detail: "bad-mxc",
        },
      );
    }
    const path = `${encodeURIComponent(mxc.serverName)}/${encodeURIComponent(mxc.mediaId)}`;
    const get = (prefix: string): Promise<Response> =>
      this.request(`${prefix}/download/${path}`, { method: "GET" });
    const response = await this.limited(async () => {
      if (this.authenticatedMedia === false) return this.checked(await get("/_matrix/media/v3"));
      const res = await get("/_matrix/client/v1/media");
      if (this.authenticatedMedia === undefined) {
        this.authenticatedMedia = !(await isUnrecognizedEndpoint(res));
      }
      if (this.authenticatedMedia) return this.checked(res);
      await res.body?.cancel();
      return this.checked(await get("/_matrix/media/v3"));
    }).catch((err: unknown) => {
      throw mediaError(err, "download");
    });
    const declared = Number(response.headers.get("content-length") ?? NaN);
    const stream = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    return Number.isFinite(declared) ? { stream, size: declared } : { stream };
  }

  /**
   * Uploads a source as `asUser` and returns its mxc:// URI. The source is opened for each
   * attempt (a rate-limited upload is sent again from the start).
   */
  async upload(
    source: MediaSource,
    options: { asUser: string; filename?: string; mimetype?: string },
  ): Promise<{ uri: string; size?: number }> {
    let size: number | undefined;
    const query = new URLSearchParams({ user_id: options.asUser });
    if (options.filename) query.set("filename", options.filename);
    const response = await this.limited(async () => {
      const opened = await source.open();
      const headers: Record<string, string> = {
        "content-type": options.mimetype || source.mimetype || "application/octet-stream",
      };
      if (opened.size !== undefined) headers["content-length"] = String(opened.size);
      size = opened.size;
      headers.authorization = `Bearer ${this.o.asToken}`;
      const url = `${this.base}/_matrix/media/v3/upload?${query.toString()}`;
      const answer = await postStream(url, headers, opened.stream);
      if (answer.status >= 200 && answer.status < 300) return answer.body;
      const b = (answer.body ?? {}) as { errcode?: unknown; retry_after_ms?: unknown };
      throw new HomeserverAnswer(
        answer.status,
        typeof b.errcode === "string" ? b.errcode : undefined,
        typeof b.retry_after_ms === "number" ? b.retry_after_ms : undefined,
      );
    }).catch((err: unknown) => {
      throw mediaError(err, "upload");
    });
    const body = response as { content_uri?: unknown } | null;
    if (typeof body?.content_uri !== "string") {
      throw new MediaUnavailableError(
        "unavailable",
        "the homeserver's upload answer had no content URI",
      );
    }
    return size === undefined ? { uri: body.content_uri } : { uri: body.content_uri, size };
  }

  private async request(pathAndQuery: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.o.asToken}`);
    return fetch(`${this.base}${pathAndQuery}`, {
      ...init,
      headers,
      signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS),
    } as RequestInit);
  }

  /** The response when it is a success; else a HomeserverAnswer (a 429 is retried). */
  private async checked(res: Response): Promise<Response> {
    if (res.ok && res.body) return res;
    const body = (await res.json().catch(() => null)) as {
      errcode?: unknown;
      retry_after_ms?: unknown;
    } | null;
    const errcode = typeof body?.errcode === "string" ? body.errcode : undefined;
    const retry = typeof body?.retry_after_ms === "number" ? body.retry_after_ms : undefined;
    throw new HomeserverAnswer(res.status, errcode, retry);
  }

  private limited<T>(request: () => Promise<T>): Promise<T> {
    return withRateLimitRetry(request, this.o.rateLimit);
  }
}

/**
 * POST a stream with node:http(s). fetch (undici) reads a stream body as fast as it can and
 * buffers what the socket cannot take yet, a whole file in the worst case; a piped request
 * waits for the socket. A failing source fails the request with the source's own error.
 */
async function postStream(
  url: string,
  headers: Record<string, string>,
  body: Readable,
): Promise<{ status: number; body: unknown }> {
  const target = new URL(url);
  const request = (target.protocol === "https:" ? httpsRequest : httpRequest)(target, {
    method: "POST",
    headers,
    timeout: TRANSFER_TIMEOUT_MS,
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once("response", resolve);
    request.once("error", reject);
    request.once("timeout", () => request.destroy(new Error("upload timed out")));
  });
  response.catch(() => undefined); // pipeline below reports the same failure
  try {
    await pipeline(body, request);
  } catch (err) {
    body.destroy();
    // The server may have answered early (a 413 or 429 before the whole body was read).
    const early = await Promise.race([
      response,
      new Promise<undefined>((r) => setImmediate(() => r(undefined))),
    ]);
    if (!early) throw err;
  }
  const res = await response;
  let text = "";
  res.setEncoding("utf8");
  for await (const chunk of res) text += String(chunk);
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: res.statusCode ?? 0, body: parsed };
}

/**
 * The server does not know the endpoint at all (as opposed to "no such file"): `M_UNRECOGNIZED`
 * with 400 or 404 (both occur), or a 404/405 without a Matrix error (a proxy in front).
 */
async function isUnrecognizedEndpoint(res: Response): Promise<boolean> {
  if (![400, 404, 405].includes(res.status)) return false;
  const errcode = await errcodeOf(res.clone());
  return errcode === "M_UNRECOGNIZED" || (errcode === undefined && res.status !== 400);
}

async function errcodeOf(res: Response): Promise<string | undefined> {
  const body = (await res.json().catch(() => null)) as { errcode?: unknown } | null;
  return typeof body?.errcode === "string" ? body.errcode : undefined;
}

/** What a failed transfer means for the message: gone, refused, or worth another try. */
function mediaError(err: unknown, what: "download" | "upload"): Error {
  if (err instanceof MediaUnavailableError) return err;
  if (err instanceof HomeserverAnswer) {
    const detail = err.errcode ?? `http-${err.statusCode}`;
    if (what === "download" && err.statusCode === 404) {
      return new MediaUnavailableError(
        "not-found",
        "the file could not be found on the homeserver",
        {
          detail,
          cause: err,
        },
      );
    }
    if (what === "upload" && (err.statusCode === 413 || err.errcode === "M_TOO_LARGE")) {
      return new MediaUnavailableError(
        "refused",
        "the homeserver refused the file as too large for its upload limit",
        { detail, cause: err },
      );
    }
    if (err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429) {
      return new MediaUnavailableError(
        "refused",
        `the homeserver refused the ${what} (${detail})`,
        {
          detail,
          cause: err,
        },
      );
    }
  }
  // Other errors of the source (a limit, a corrupt blob) are passed on as they are.
  if (err instanceof MediaLimitError) return err;
  return new MediaUnavailableError("unavailable", `the ${what} to or from the homeserver failed`, {
    cause: err,
  });
}
