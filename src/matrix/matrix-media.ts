/**
 * Media on the Matrix side: reading a Matrix user's file for the relay (as the bot), and
 * posting a contact's file (uploaded as their puppet, then the event built around it).
 */
import { Readable } from "node:stream";
import type { MediaMessageContent, MediaSource, OpenedMedia } from "../core/media.js";
import { Logger } from "./appservice-bridge.js";
import { fileNameFor, mediaEventContent } from "./media-content.js";
import type { ToMatrix, UploadedMedia } from "./media-content.js";
import type { MatrixMediaHttp } from "./media-http.js";

const log = new Logger("MatrixMedia");

export class MatrixMedia {
  constructor(
    private readonly http: MatrixMediaHttp,
    private readonly toMatrix: ToMatrix,
  ) {}

  download(uri: string): Promise<OpenedMedia> {
    return this.http.download(uri);
  }

  /**
   * Uploads the file (and its preview, if any) as `asUser` and returns the event content.
   * The upload streams from the source; a failing source (corrupt, over the limit) fails
   * here, before any event exists.
   */
  async eventContent(
    content: MediaMessageContent,
    asUser: string,
  ): Promise<Record<string, unknown>> {
    const filename = fileNameFor(content);
    const file = await this.http.upload(content.media, {
      asUser,
      filename,
      mimetype: content.media.mimetype,
    });
    const uploaded: UploadedMedia = {
      url: file.uri,
      ...(file.size === undefined ? {} : { size: file.size }),
    };
    if (content.thumbnail) {
      try {
        const thumb = await this.http.upload(content.thumbnail, { asUser });
        uploaded.thumbnail = {
          url: thumb.uri,
          mimetype: content.thumbnail.mimetype,
          ...(thumb.size === undefined ? {} : { size: thumb.size }),
        };
      } catch (err) {
        // Only a preview: the file itself is what matters.
        log.debug(`Thumbnail upload failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return mediaEventContent(content, uploaded, this.toMatrix);
  }

  /** Uploads `text` as a UTF-8 text file as `asUser` (a message too long for one event). */
  async uploadText(
    text: string,
    asUser: string,
    filename: string,
  ): Promise<{ url: string; size: number }> {
    return this.uploadBytes(Buffer.from(text, "utf8"), TEXT_MIMETYPE, asUser, filename);
  }

  /** Uploads bytes the bridge holds (a long text, a group's picture) as `asUser`. */
  async uploadBytes(
    bytes: Uint8Array,
    mimetype: string,
    asUser: string,
    filename: string,
  ): Promise<{ url: string; size: number }> {
    const source: MediaSource = {
      uri: `bytes:${filename}`,
      mimetype,
      size: bytes.length,
      open: () => Promise.resolve({ stream: Readable.from([bytes]), size: bytes.length }),
    };
    const file = await this.http.upload(source, { asUser, filename, mimetype });
    return { url: file.uri, size: bytes.length };
  }
}

const TEXT_MIMETYPE = "text/plain; charset=utf-8";
