/** One-line renderings of what the chat CLI shows. */
import { type ContentKind, describeContent } from "../../gatekeeper/content/index.js";
import type { Message } from "../../gen/gki_pb.js";
import { parseJid } from "../../gatekeeper/stanza/index.js";
import { shortId } from "./ids.js";

/** Shown after a received file when the chat runs without --media-dir. */
export const MEDIA_DIR_HINT = "(chat --media-dir DIR saves received files)";

/** A person's name for a mention, where the chat knows one. */
export type MentionName = (jid: string) => string | undefined;

export function describeMessage(content: Message, nameOf?: MentionName): string {
  const kind = describeContent(content);
  const shown = describeKind(kind, nameOf);
  // docs/protocol.md §8.2: what else a message carried is said, never silently dropped.
  const ignored = "ignored" in kind ? kind.ignored : undefined;
  return ignored?.length ? `${shown} [also carried, not shown: ${ignored.join(", ")}]` : shown;
}

function describeKind(c: ContentKind, nameOf?: MentionName): string {
  switch (c.kind) {
    case "text":
      return replyPrefix(c.contextInfo?.stanzaId) + named(c.text, c.mentions, nameOf);
    case "image":
    case "video":
    case "document": {
      const caption = c.caption ? ` ${named(c.caption, c.mentions, nameOf)}` : "";
      return `${replyPrefix(c.contextInfo?.stanzaId)}[${c.kind}${c.fileName ? ` ${c.fileName}` : ""}, ${c.media.fileLength} bytes]${caption}`;
    }
    case "audio":
      return `${replyPrefix(c.contextInfo?.stanzaId)}[${c.ptt ? "voice message" : "audio"}${c.seconds === undefined ? "" : `, ${c.seconds} s`}, ${c.media.fileLength} bytes]`;
    case "reaction":
      return c.emoji === ""
        ? `[removed a reaction to ${shortId(c.key.id)}]`
        : `[reacted ${c.emoji} to ${shortId(c.key.id)}]`;
    case "revoke":
      return `[deleted message ${shortId(c.key.id)}]`;
    case "edit":
      return `[edited ${shortId(c.key.id)}] ${describeKind(c.newContent)}`;
    case "unknown":
      return c.reason === "conflicting"
        ? "[a malformed message: it carried conflicting changes, none applied]"
        : "[a message this client cannot show]";
  }
}

/**
 * A group text's mentions (docs/protocol.md §19.6: "@" + the user part of a JID the message
 * lists) shown by name where the chat knows one: "@Bob" instead of "@123456789012345".
 */
function named(text: string, jids: readonly string[] | undefined, nameOf?: MentionName): string {
  if (jids === undefined || nameOf === undefined) return text;
  let out = text;
  for (const jid of jids) {
    const parsed = parseJid(jid);
    const userPart =
      parsed?.kind === "lid"
        ? parsed.lid
        : parsed?.kind === "interop"
          ? `${parsed.partnerId}.${parsed.accountId}`
          : undefined;
    const name = nameOf(jid);
    if (userPart === undefined || name === undefined) continue;
    // Standing alone: in "mail@…" or a longer number it is not this mention.
    const token = new RegExp(
      `(?<![\\p{L}\\p{N}_@-])@${escapeRegExp(userPart)}(?![\\p{L}\\p{N}_-])`,
      "gu",
    );
    out = out.replace(token, () => `@${name}`);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function replyPrefix(quoted: string | undefined): string {
  return quoted === undefined ? "" : `(reply to ${shortId(quoted)}) `;
}

/** Whether a message is something to answer (text, a file), not an edit, deletion or reaction. */
export function isAddressable(kind: ContentKind): boolean {
  return kind.kind !== "reaction" && kind.kind !== "revoke" && kind.kind !== "edit";
}

/**
 * A received message: `12:00:01 #A1B2C3 Alice: hello`, in a group `12:00:01 [Family]
 * #A1B2C3 Bob: hi` (`group`: the group's label). Edits, deletions and reactions name the
 * message they change and show no id of their own: nothing can be done with it. `note`:
 * where a received file went; `nameOf`: names for the people a group message mentions.
 */
export function receivedLine(
  m: { id: string; t: number; offline: boolean; content: Message },
  sender: string,
  opts: { note?: string; group?: string; nameOf?: MentionName } = {},
): string {
  const where = opts.group === undefined ? "" : `${opts.group} `;
  const id = isAddressable(describeContent(m.content)) ? `${shortId(m.id)} ` : "";
  const away = m.offline ? " (while you were away)" : "";
  const note = opts.note ? ` ${opts.note}` : "";
  return `${time(m.t)} ${where}${id}${sender}: ${describeMessage(m.content, opts.nameOf)}${away}${note}`;
}

/** What we sent: `  sent #A1B2C3 at 12:00:01`, plus what it was when not plain text. */
export function sentLine(sent: { id: string; t: number }, what?: string): string {
  return `  sent ${shortId(sent.id)} at ${time(sent.t)}${what ? `: ${what}` : ""}`;
}

/**
 * A line safe to print: the contact writes most of what is shown (texts, names, file names),
 * and a terminal obeys escape sequences, so control characters other than newline and tab
 * are shown as "�" instead.
 */
export function printable(line: string): string {
  return line.replace(CONTROL_CHARS, "\uFFFD");
}
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function time(t: number): string {
  return new Date(t * 1000).toISOString().slice(11, 19);
}
