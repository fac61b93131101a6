/**
 * Media in the relays, both ways, protocol-neutral. Limits are data (the bridge's per-kind
 * maximum, capped by what the network carries). Matrix → remote: an item over the limit or
 * of a kind the network cannot carry is refused before anything is sent; the outbox keeps
 * only the media reference, bound here to a Matrix download at send time. Remote → Matrix:
 * an item over the limit, or one whose file cannot be had for good (gone, corrupt), is
 * posted as a notice that says what failed, so the message is handled and never silently lost.
 */
import { excerpt } from "../util/unicode.js";
import type { BridgeContent } from "./content.js";
import {
  MEDIA_KINDS,
  MediaLimitError,
  MediaUnavailableError,
  formatBytes,
  isMediaContent,
  limitedSource,
  mediaNoun,
  mediaPlural,
} from "./media.js";
import type { MediaLimits, MediaMessageContent, MediaRef, MediaSource } from "./media.js";
import type { MatrixSide } from "./matrix-side.js";
import { RemoteError } from "./network.js";
import type { RemoteNetwork } from "./network.js";

export interface MediaRelayOptions {
  /** The bridge's configured maximum per kind, in bytes. */
  configured: MediaLimits;
  network: Pick<RemoteNetwork, "capabilities">;
  matrix: Pick<MatrixSide, "downloadMedia">;
}

export class MediaRelay {
  constructor(private readonly o: MediaRelayOptions) {}

  /** Whether media goes both ways at all (the network carries it, the Matrix side reads it). */
  get enabled(): boolean {
    return (
      this.o.network.capabilities.media !== undefined && this.o.matrix.downloadMedia !== undefined
    );
  }

  /** Effective limits: the configured ones, capped by the network's (all 0 without media). */
  get limits(): MediaLimits {
    const cap = this.o.network.capabilities.media?.maxBytes ?? 0;
    const out = {} as Record<keyof MediaLimits, number>;
    for (const kind of MEDIA_KINDS) out[kind] = Math.min(this.o.configured[kind], cap);
    return out;
  }

  // ------------------------------------------------------------------ Matrix → remote

  /** Why this media cannot be sent (answered at once, nothing is sent), or undefined. */
  refusal(content: MediaMessageContent): string | undefined {
    const networkName = this.o.network.capabilities.networkName;
    if (!this.enabled) {
      return `${mediaPlural(content.kind)} cannot be sent to ${networkName} through this bridge`;
    }
    const max = this.limits[content.kind];
    if (content.media.size !== undefined && content.media.size > max) {
      return new MediaLimitError(content.kind, max).userMessage;
    }
    return undefined;
  }

  /**
   * A Matrix user's media content read back from the outbox: its sources bound to Matrix
   * downloads, with the size limit enforced while streaming (a stated size may lie).
   */
  bindOutgoing(content: MediaMessageContent): MediaMessageContent {
    const max = this.limits[content.kind];
    const bound: MediaMessageContent = {
      ...content,
      media: limitedSource(this.matrixSource(content.media), content.kind, max),
    };
    if (content.thumbnail) bound.thumbnail = this.matrixSource(content.thumbnail);
    return bound;
  }

  // ------------------------------------------------------------------ remote → Matrix

  /**
   * Posts remote content through `send`: media within the limit as itself (the limit
   * enforced while streaming), media over it or whose file cannot be had for good as a
   * notice saying so. Other content passes unchanged. Transient failures are thrown (the
   * caller retries; the message stays unacked until it is posted).
   */
  async post(
    content: BridgeContent,
    send: (content: BridgeContent) => Promise<string>,
  ): Promise<string> {
    if (!isMediaContent(content)) return send(content);
    const max = this.limits[content.kind];
    const stated = content.media.size;
    if (stated !== undefined && stated > max) {
      return send(this.notice(content, tooLargeReason(content, stated, max)));
    }
    const limited: MediaMessageContent = {
      ...content,
      media: limitedSource(content.media, content.kind, max),
    };
    try {
      return await send(limited);
    } catch (err) {
      const reason = permanentReason(err);
      if (reason === undefined) throw err;
      return send(this.notice(content, reason));
    }
  }

  /** "sent an image (with the caption: …), but …": what the contact sent and why it is not here. */
  private notice(content: MediaMessageContent, reason: string): BridgeContent {
    // Only the caption's beginning: a notice stays small whatever the contact sent.
    const caption = content.caption ? ` with the caption "${excerpt(content.caption)}"` : "";
    const out: BridgeContent = {
      kind: "unsupported",
      description: `sent ${mediaNoun(content)}${caption}, but it could not be bridged: ${reason}.`,
    };
    if (content.replyTo !== undefined) out.replyTo = content.replyTo;
    if (content.quote !== undefined) out.quote = content.quote;
    return out;
  }

  private matrixSource(ref: MediaRef): MediaSource {
    const download = this.o.matrix.downloadMedia?.bind(this.o.matrix);
    return {
      uri: ref.uri,
      mimetype: ref.mimetype,
      ...(ref.size === undefined ? {} : { size: ref.size }),
      open: (options) => {
        if (!download) {
          return Promise.reject(
            new MediaUnavailableError("unavailable", "the bridge cannot read Matrix media", {
              permanent: true,
            }),
          );
        }
        return download(ref.uri, options);
      },
    };
  }
}

function tooLargeReason(content: MediaMessageContent, size: number, max: number): string {
  return `at ${formatBytes(size)} it is larger than this bridge relays for ${mediaPlural(content.kind)} (${formatBytes(max)})`;
}

/** What to tell the user when posting media failed for good; undefined when worth retrying. */
function permanentReason(err: unknown): string | undefined {
  if (err instanceof MediaLimitError) return err.userMessage;
  if (err instanceof MediaUnavailableError && err.permanent) return err.userMessage;
  if (err instanceof RemoteError && err.permanent && err.code === "too-large")
    return err.userMessage;
  return undefined;
}
