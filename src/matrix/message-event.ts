/**
 * The Matrix event a bridged message becomes (a relation, media, or text), made to fit the
 * event size limit (event-size.ts) before it is sent: what the homeserver would refuse is
 * refused here, the same way, and a text too long for one event goes as a file.
 */
import type { BridgeContent } from "../core/content.js";
import { isMediaContent } from "../core/media.js";
import type { MatrixMedia } from "./matrix-media.js";
import {
  LONG_TEXT_FILENAME,
  MAX_CONTENT_BYTES,
  fits,
  longTextCaption,
  shortenMediaContent,
  shortenedText,
  withoutFormatting,
} from "./event-size.js";
import { MENTIONS_KEY, mentionsContent, messageContent } from "./room-content.js";
import type { ToMatrix } from "./room-content.js";
import { relationEvent } from "./relation-events.js";
import { MatrixSideError } from "./matrix-errors.js";

type Json = Record<string, unknown>;

export interface MessageEventOptions {
  toMatrix: ToMatrix;
  /** Uploads media and long texts; without it, a long text is cut short. */
  media?: MatrixMedia;
}

/** Refused before sending: the homeserver would refuse it the same way (event-size.ts). */
function tooLarge(): MatrixSideError {
  return new MatrixSideError(
    "permanent",
    "M_TOO_LARGE",
    `the message is too large for a Matrix event (over ${MAX_CONTENT_BYTES / 1024} KiB)`,
  );
}

function withinLimit(content: Json): Json {
  if (!fits(content)) throw tooLarge();
  return content;
}

/**
 * The event type and content for `content` sent as `senderMxid` (who owns what is uploaded);
 * a deletion is a redaction, not an event of its own, and is not handled here.
 */
export async function messageEvent(
  content: BridgeContent,
  senderMxid: string,
  opts: MessageEventOptions,
): Promise<{ type: string; content: Json }> {
  const message = (body: Json) => ({ type: "m.room.message", content: body });
  const relation = relationEvent(content, opts.toMatrix);
  if (relation) {
    if (fits(relation.content)) return relation;
    if (content.kind !== "edit") throw tooLarge();
    const shortened = relationEvent(
      { ...content, text: shortenedText(content.text, "edited message") },
      opts.toMatrix,
    );
    return message(withinLimit(shortened?.content ?? {}));
  }
  if (isMediaContent(content) && opts.media) {
    const body = await opts.media.eventContent(content, senderMxid);
    body[MENTIONS_KEY] = mentionsContent(content.mentions);
    return message(fits(body) ? body : withinLimit(shortenMediaContent(body)));
  }
  const body = messageContent(content, opts.toMatrix);
  if (fits(body)) return message(body);
  // Too long with its HTML: the plain text still has every character.
  const plain = withoutFormatting(body);
  if (fits(plain)) return message(plain);
  const text = content.kind === "text" ? content.text : undefined;
  if (text === undefined) throw tooLarge();
  return message(withinLimit(await longText(text, plain, senderMxid, opts.media)));
}

/**
 * A text too long for one event: the whole of it as `message.txt`, its beginning as the
 * caption (event-size.ts). Without media on the Matrix side, the beginning alone, and a
 * line that says the rest could not be shown.
 */
async function longText(
  text: string,
  plain: Json,
  senderMxid: string,
  media: MatrixMedia | undefined,
): Promise<Json> {
  if (!media) {
    return { ...plain, msgtype: "m.notice", body: shortenedText(text, "message") };
  }
  const file = await media.uploadText(text, senderMxid, LONG_TEXT_FILENAME);
  return {
    ...plain,
    msgtype: "m.file",
    body: longTextCaption(text),
    filename: LONG_TEXT_FILENAME,
    url: file.url,
    info: { mimetype: "text/plain", size: file.size },
  };
}
