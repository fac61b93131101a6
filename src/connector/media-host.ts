/**
 * The partner media host (docs/protocol.md §11.4): media a Matrix user sends is encrypted
 * with the GKI/1 scheme as it streams in, written to a file named by an unguessable token,
 * and served without authentication at `GET /_gki/v1/media/:token` to the gatekeeper's
 * media proxy. A blob is deleted once it was fetched in full, or when it expires; a blob
 * for a group message only when it expires, since every member fetches it (§11.4). (Counting
 * fetches up to the number of members would free it sooner, but a member who fetches it
 * twice, say after a lost answer, would leave another without it; the expiry is always right.)
 *
 * One row per (login, message id): a resend of the same message after a crash finds it and
 * sends the same URL, key and hashes (the gatekeeper dedupes by id, so the contact sees one
 * message with one working file).
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import express from "express";
import type { Knex } from "knex";
import { bytes, num, numOrNull } from "../db/repositories/columns.js";
import { silentLogger } from "../gatekeeper/client/index.js";
import type { ClientLogger } from "../gatekeeper/client/index.js";
import { errorText } from "../gatekeeper/client/logger.js";
import { createEncryptStream } from "../gatekeeper/media/index.js";
import type { MediaType } from "../gatekeeper/media/index.js";

export const MEDIA_PATH_PREFIX = "/_gki/v1/media/";
const TABLE = "gk_media_hosted";
/** 24 random bytes → 32 base64url characters (the spec asks for at least 128 bits). */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
const PART = ".part";

export interface HostedBlob {
  token: string;
  loginId: string;
  messageId: string;
  mediaKey: Uint8Array;
  fileSha256: Uint8Array;
  fileEncSha256: Uint8Array;
  /** Plaintext bytes. */
  fileLength: number;
  /** Bytes served (ciphertext and MAC). */
  blobLength: number;
  createdAt: number;
  expiresAt: number;
  /** Set on the first full fetch of a one-to-one blob (it is gone then). */
  fetchedAt: number | null;
  /** Served to every fetch until it expires (a group message's blob). */
  untilExpiry: boolean;
}

export interface HostedMediaOptions {
  db: Knex;
  /** The media folder; blobs go into its `hosted/` subfolder. */
  directory: string;
  expirySeconds: number;
  /** Base URL the gatekeeper reaches the partner endpoints at (read at each use). */
  publicBaseUrl: () => string;
  logger?: ClientLogger;
  now?: () => number;
}

interface Row {
  token: string;
  login_id: string;
  message_id: string;
  media_key: Buffer;
  file_sha256: Buffer;
  file_enc_sha256: Buffer;
  file_length: number | string;
  blob_length: number | string;
  created_at: number | string;
  expires_at: number | string;
  fetched_at: number | string | null;
  until_expiry: boolean | number;
}

function fromRow(r: Row): HostedBlob {
  return {
    token: r.token,
    loginId: r.login_id,
    messageId: r.message_id,
    mediaKey: bytes(r.media_key),
    fileSha256: bytes(r.file_sha256),
    fileEncSha256: bytes(r.file_enc_sha256),
    fileLength: num(r.file_length),
    blobLength: num(r.blob_length),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    fetchedAt: numOrNull(r.fetched_at),
    untilExpiry: Boolean(r.until_expiry),
  };
}

export class HostedMedia {
  readonly folder: string;
  private readonly logger: ClientLogger;
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly o: HostedMediaOptions) {
    this.folder = join(o.directory, "hosted");
    this.logger = o.logger ?? silentLogger;
    this.now = o.now ?? Date.now;
  }

  /** The URL the gatekeeper fetches a blob from. */
  url(token: string): string {
    return `${this.o.publicBaseUrl().replace(/\/+$/, "")}${MEDIA_PATH_PREFIX}${token}`;
  }

  async find(loginId: string, messageId: string): Promise<HostedBlob | undefined> {
    const row = (await this.o
      .db<Row>(TABLE)
      .where({ login_id: loginId, message_id: messageId })
      .first()) as Row | undefined;
    return row && fromRow(row);
  }

  /**
   * Whether a resend may point at this blob again: the gatekeeper fetched it already (the
   * contact has it), or it is still on disk and not expired.
   */
  async reusable(blob: HostedBlob): Promise<boolean> {
    if (blob.fetchedAt !== null) return true;
    if (blob.expiresAt <= this.now()) return false;
    return fileExists(this.path(blob.token));
  }

  /**
   * Encrypts `plaintext` as it streams in and hosts the blob for (login, message). Any
   * earlier blob for the message is replaced. If the stream fails (a size limit, a broken
   * download), nothing is left behind and the error is passed on. `untilExpiry`: served to
   * every fetch until it expires (a group message, fetched by each member), not just once.
   */
  async host(
    loginId: string,
    messageId: string,
    mediaType: MediaType,
    plaintext: Readable,
    options: { untilExpiry?: boolean } = {},
  ): Promise<HostedBlob> {
    await mkdir(this.folder, { recursive: true });
    const token = randomBytes(24).toString("base64url");
    const part = this.path(token) + PART;
    const encrypt = createEncryptStream(mediaType);
    try {
      await pipeline(plaintext, encrypt, createWriteStream(part, { flags: "wx" }));
    } catch (err) {
      await unlink(part).catch(() => undefined);
      throw err;
    }
    const result = await encrypt.result;
    const blobLength = (await stat(part)).size;
    await rename(part, this.path(token));
    const now = this.now();
    const blob: HostedBlob = {
      token,
      loginId,
      messageId,
      mediaKey: result.mediaKey,
      fileSha256: result.fileSha256,
      fileEncSha256: result.fileEncSha256,
      fileLength: result.fileLength,
      blobLength,
      createdAt: now,
      expiresAt: now + this.o.expirySeconds * 1000,
      fetchedAt: null,
      untilExpiry: options.untilExpiry ?? false,
    };
    const previous = await this.find(loginId, messageId);
    await this.o.db.transaction(async (trx) => {
      await trx(TABLE).where({ login_id: loginId, message_id: messageId }).delete();
      await trx(TABLE).insert({
        token,
        login_id: loginId,
        message_id: messageId,
        media_key: Buffer.from(blob.mediaKey),
        file_sha256: Buffer.from(blob.fileSha256),
        file_enc_sha256: Buffer.from(blob.fileEncSha256),
        file_length: blob.fileLength,
        blob_length: blob.blobLength,
        created_at: blob.createdAt,
        expires_at: blob.expiresAt,
        fetched_at: null,
        until_expiry: blob.untilExpiry,
      });
    });
    if (previous) await this.removeFile(previous.token);
    this.logger.debug("media hosted", { bytes: blobLength });
    return blob;
  }

  /** Forgets a login's blobs (logout). */
  async removeLogin(loginId: string): Promise<void> {
    const rows = (await this.o.db<Row>(TABLE).where({ login_id: loginId }).select("token")) as {
      token: string;
    }[];
    await this.o.db(TABLE).where({ login_id: loginId }).delete();
    for (const { token } of rows) await this.removeFile(token);
  }

  /**
   * Deletes expired blobs (rows and files), and with `strays` also files without a row and
   * unfinished `.part` files (left by a crash; only safe at start-up). Returns files removed.
   */
  async sweep(options: { strays?: boolean } = {}): Promise<number> {
    const now = this.now();
    const expired = (await this.o
      .db<Row>(TABLE)
      .where("expires_at", "<=", now)
      .select("token")) as { token: string }[];
    let removed = 0;
    for (const { token } of expired) {
      await this.o.db(TABLE).where({ token }).delete();
      if (await this.removeFile(token)) removed += 1;
    }
    if (options.strays) removed += await this.removeStrays();
    if (removed > 0) this.logger.debug("hosted media swept", { removed });
    return removed;
  }

  /** Sweeps now (with strays) and then every `intervalMs` (default: a minute, or the expiry if shorter). */
  async start(intervalMs?: number): Promise<void> {
    await this.sweep({ strays: true });
    const every = intervalMs ?? Math.min(60_000, this.o.expirySeconds * 1000);
    this.sweeper = setInterval(() => {
      this.sweep().catch((err: unknown) =>
        this.logger.warn("hosted media sweep failed", { error: errorText(err) }),
      );
    }, every);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Express router for `GET /_gki/v1/media/:token` (mounted on the partner endpoints). */
  router(): express.Router {
    const router = express.Router();
    router.get(`${MEDIA_PATH_PREFIX}:token`, (req, res) => {
      this.serve(req.params.token ?? "", req.method === "HEAD", res).catch((err: unknown) => {
        this.logger.error("serving hosted media failed", { error: errorText(err) });
        if (!res.headersSent) res.status(500).json({ error: "internal" });
        else res.destroy();
      });
    });
    return router;
  }

  private async serve(token: string, headOnly: boolean, res: express.Response): Promise<void> {
    const notFound = (): void => {
      res.status(404).json({ error: "not-found" });
    };
    if (!TOKEN_PATTERN.test(token)) return notFound();
    const row = (await this.o.db<Row>(TABLE).where({ token }).first()) as Row | undefined;
    const blob = row && fromRow(row);
    if (!blob || blob.fetchedAt !== null || blob.expiresAt <= this.now()) return notFound();
    let file: Readable;
    try {
      file = await openFile(this.path(token));
    } catch {
      return notFound();
    }
    res.status(200);
    res.set({
      "content-type": "application/octet-stream",
      "content-length": String(blob.blobLength),
      "cache-control": "no-store",
    });
    if (headOnly) {
      file.destroy();
      res.end();
      return;
    }
    try {
      await pipeline(file, res);
    } catch (err) {
      // The fetcher went away half way: the blob stays for another try.
      this.logger.debug("hosted media fetch aborted", { error: errorText(err) });
      return;
    }
    if (blob.untilExpiry) {
      this.logger.debug("hosted media fetched (kept until it expires)", { bytes: blob.blobLength });
      return;
    }
    // Fetched in full: the gatekeeper holds it now (§11.4), so it goes.
    await this.o.db(TABLE).where({ token }).update({ fetched_at: this.now() });
    await this.removeFile(token);
    this.logger.debug("hosted media fetched and removed", { bytes: blob.blobLength });
  }

  private path(token: string): string {
    return join(this.folder, token);
  }

  private async removeFile(token: string): Promise<boolean> {
    try {
      await unlink(this.path(token));
      return true;
    } catch {
      return false;
    }
  }

  private async removeStrays(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch {
      return 0; // no folder yet: nothing hosted ever
    }
    const known = new Set(
      ((await this.o.db<Row>(TABLE).select("token")) as { token: string }[]).map((r) => r.token),
    );
    let removed = 0;
    for (const name of names) {
      if (known.has(name)) continue;
      await unlink(join(this.folder, name)).then(
        () => (removed += 1),
        () => undefined,
      );
    }
    return removed;
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A read stream that is open (so a missing file is an error here, not on the response). */
function openFile(path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path);
    stream.once("open", () => {
      stream.off("error", reject);
      resolve(stream);
    });
    stream.once("error", reject);
  });
}
