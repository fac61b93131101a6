/**
 * Whom a Matrix message mentions, as spans of its markup (core/content.ts): every pill
 * (formatting finds them in the HTML), and for a user that `m.mentions` lists but no pill
 * shows (a plain-text client), each place the text has their MXID as it is. "@room" is no
 * one's: it stays text.
 */
import type { MatrixMention } from "../core/content.js";
import type { MentionSpan } from "./formatting/index.js";

export function mentionSpans(
  text: string,
  pills: readonly MentionSpan[],
  intentional: unknown,
): MatrixMention[] {
  const spans: MatrixMention[] = pills.map(({ start, end, mxid }) => ({ start, end, mxid }));
  const pilled = new Set(spans.map((s) => s.mxid));
  for (const mxid of listedUsers(intentional)) {
    if (pilled.has(mxid)) continue;
    for (let at = text.indexOf(mxid); at !== -1; at = text.indexOf(mxid, at + mxid.length)) {
      const span = { start: at, end: at + mxid.length, mxid };
      if (!spans.some((s) => s.start < span.end && span.start < s.end)) spans.push(span);
    }
  }
  return spans.sort((a, b) => a.start - b.start);
}

/** m.mentions.user_ids, what of it looks like user ids. */
function listedUsers(intentional: unknown): string[] {
  if (typeof intentional !== "object" || intentional === null) return [];
  const ids = (intentional as { user_ids?: unknown }).user_ids;
  if (!Array.isArray(ids)) return [];
  return [
    ...new Set(
      ids.filter((id): id is string => typeof id === "string" && /^@[^:\s]+:\S+$/.test(id)),
    ),
  ];
}
