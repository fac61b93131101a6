/**
 * Matrix events have a size limit: a homeserver refuses an event whose JSON is over 65,536
 * bytes (Synapse answers M_TOO_LARGE), counted with the envelope it adds (ids, hashes,
 * signatures, auth and prev events: one or two KB). The bridge measures a contact's message
 * before sending it and makes it fit here, so that a long text is never refused, retried and
 * lost, and one contact can never hold up the others with it:
 *
 * - text whose HTML does not fit is sent plain (every character kept, the formatting lost);
 * - text that does not fit even plain is posted as a file, `message.txt`, holding all of it,
 *   with the beginning as the caption and a line that says so;
 * - a media caption or file name, or an edit, that does not fit is shortened, and says so;
 * - what still cannot fit is refused here (MatrixSideError "M_TOO_LARGE", permanent), before
 *   any request, and the relay tells the user what arrived instead.
 */
import { excerpt } from "../util/unicode.js";

/** The homeserver's limit for a whole event (the spec's, and Synapse's). */
export const MAX_EVENT_BYTES = 65_536;
/** What an event's content may take: the rest is left for the homeserver's envelope. */
export const MAX_CONTENT_BYTES = 60 * 1024;
/** The file a text too long for one event is posted as. */
export const LONG_TEXT_FILENAME = "message.txt";
/** A preview (caption, shortened edit) shows at most this many characters … */
const PREVIEW_CHARS = 2_000;
/** … and this many lines. */
const PREVIEW_LINES = 30;
/** File names longer than this are shortened (file systems allow 255 bytes). */
const MAX_FILENAME_CHARS = 120;

type Json = Record<string, unknown>;

/** Bytes of `content` as the homeserver counts them (UTF-8 JSON). */
export function contentBytes(content: unknown): number {
  return Buffer.byteLength(JSON.stringify(content), "utf8");
}

export function fits(content: unknown, max = MAX_CONTENT_BYTES): boolean {
  return contentBytes(content) <= max;
}

/** The first lines and characters of `text`, well-formed, "…" where it was cut. */
export function preview(text: string, maxChars = PREVIEW_CHARS, maxLines = PREVIEW_LINES): string {
  let cut = text;
  let shortened = false;
  let newlines = 0;
  for (let i = 0; i < cut.length; i++) {
    if (cut.charCodeAt(i) === 10 && ++newlines >= maxLines) {
      cut = cut.slice(0, i);
      shortened = true;
      break;
    }
  }
  const short = excerpt(cut, maxChars);
  return shortened && !short.endsWith("…") ? `${short}…` : short;
}

/** "1,234,567": counts in notices. */
export function count(n: number): string {
  return n.toLocaleString("en-GB");
}

/** Characters (code points) of `text`. */
export function characters(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** A text message without its HTML (format, formatted_body): every character kept. */
export function withoutFormatting(content: Json): Json {
  const out = { ...content };
  delete out.format;
  delete out.formatted_body;
  return out;
}

/**
 * The caption of a text too long for one event, posted as `message.txt`: its beginning and
 * what happened. Clients that show captions (spec v1.10) show it under the file.
 */
export function longTextCaption(text: string): string {
  return (
    `${preview(text)}\n\n` +
    `(This message is too long to show here: ${count(characters(text))} characters. ` +
    `All of it is in the attached file ${LONG_TEXT_FILENAME}.)`
  );
}

/**
 * A media event whose caption or file name is too long: both shortened (the caption says
 * how much was left out), formatting dropped. The file itself is unchanged.
 */
export function shortenMediaContent(content: Json): Json {
  const out = withoutFormatting(content);
  const filename = typeof out.filename === "string" ? out.filename : undefined;
  const body = typeof out.body === "string" ? out.body : "";
  const shortName = filename === undefined ? undefined : excerpt(filename, MAX_FILENAME_CHARS);
  if (shortName !== undefined) out.filename = shortName;
  const isCaption = filename !== undefined && body !== filename;
  if (isCaption) {
    const shown = preview(body);
    const left = characters(body) - characters(shown) + (shown.endsWith("…") ? 1 : 0);
    out.body =
      left > 0
        ? `${shown}\n\n(The caption was shortened: ${count(left)} more characters are not shown.)`
        : shown;
  } else {
    out.body = shortName ?? excerpt(body, MAX_FILENAME_CHARS);
  }
  return out;
}

/**
 * A text too long for one event and with nowhere else to go (an edit; a message when the
 * bridge has no Matrix media): its beginning, and a line that says the rest is not shown.
 */
export function shortenedText(text: string, what: "message" | "edited message"): string {
  return (
    `${preview(text)}\n\n(The ${what} is too long to show here: ` +
    `${count(characters(text))} characters; only its beginning is shown.)`
  );
}
