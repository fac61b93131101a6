/** One-line renderings of what the chat CLI shows. */
import { type ContentKind, describeContent } from "../../gatekeeper/content/index.js";
import type { Message } from "../../gen/gki_pb.js";

export function describeMessage(content: Message): string {
  const kind = describeContent(content);
  const shown = describeKind(kind);
  // docs/protocol.md §8.2: what else a message carried is said, never silently dropped.
  const ignored = "ignored" in kind ? kind.ignored : undefined;
  return ignored?.length ? `${shown} [also carried, not shown: ${ignored.join(", ")}]` : shown;
}

function describeKind(c: ContentKind): string {
  switch (c.kind) {
    case "text":
      return c.contextInfo ? `(reply to ${c.contextInfo.stanzaId}) ${c.text}` : c.text;
    case "image":
    case "video":
    case "document":
      return `[${c.kind}${c.fileName ? ` ${c.fileName}` : ""}, ${c.media.fileLength} bytes]${c.caption ? ` ${c.caption}` : ""}`;
    case "audio":
      return `[${c.ptt ? "voice message" : "audio"}${c.seconds === undefined ? "" : `, ${c.seconds} s`}]`;
    case "reaction":
      return c.emoji === ""
        ? `[removed a reaction to ${c.key.id}]`
        : `[reacted ${c.emoji} to ${c.key.id}]`;
    case "revoke":
      return `[deleted message ${c.key.id}]`;
    case "edit":
      return `[edited ${c.key.id}] ${describeKind(c.newContent)}`;
    case "unknown":
      return c.reason === "conflicting"
        ? "[a malformed message: it carried conflicting changes, none applied]"
        : "[a message this client cannot show]";
  }
}

export function time(t: number): string {
  return new Date(t * 1000).toISOString().slice(11, 19);
}
