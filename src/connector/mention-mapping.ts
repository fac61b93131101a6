/**
 * Mentions in group texts between GKI/1 and the core's spans (docs/protocol.md §19.6): the
 * text carries "@" + the mentioned JID's user part, and ContextInfo.mentioned_jid lists the
 * JIDs. Only a JID in that list is mentioned: the same "@…" for anyone else is plain text.
 */
import type { RemoteMention } from "../core/content.js";
import { parseJid } from "../gatekeeper/stanza/index.js";

/** What a user part is made of: a mention must not be the start or end of a longer one. */
const USER_PART_CHAR = /[\p{L}\p{N}\p{M}_-]/u;

/**
 * "@" + the JID's user part as a text writes it: the lid digits for a native user,
 * `partner.account` for a partner user; undefined for a JID that is no user's.
 */
export function mentionToken(jid: string): string | undefined {
  const parsed = parseJid(jid);
  if (parsed?.kind === "lid") return `@${parsed.lid}`;
  if (parsed?.kind === "interop") return `@${parsed.partnerId}.${parsed.accountId}`;
  return undefined;
}

/** Every "@user part" of a listed JID in `text` that stands alone, in text order. */
export function findMentions(text: string, jids: readonly string[]): RemoteMention[] {
  const found: RemoteMention[] = [];
  for (const jid of new Set(jids)) {
    const token = mentionToken(jid);
    if (token === undefined) continue;
    for (let at = text.indexOf(token); at !== -1; at = text.indexOf(token, at + 1)) {
      const end = at + token.length;
      if (standsAlone(text, at, end)) found.push({ start: at, end, id: jid });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

/**
 * The text with each span replaced by "@" + its JID's user part, and the JIDs for
 * mentioned_jid (each once). Spans that are out of the text, overlap an earlier one or name
 * no user are left as they are.
 */
export function writeMentions(
  text: string,
  mentions: readonly RemoteMention[] | undefined,
): { text: string; jids: string[] } {
  if (mentions === undefined || mentions.length === 0) return { text, jids: [] };
  let out = "";
  let from = 0;
  const jids = new Set<string>();
  for (const m of [...mentions].sort((a, b) => a.start - b.start)) {
    const token = mentionToken(m.id);
    if (token === undefined || m.start < from || m.end <= m.start || m.end > text.length) continue;
    out += text.slice(from, m.start) + token;
    from = m.end;
    jids.add(m.id);
  }
  return { text: out + text.slice(from), jids: [...jids] };
}

function standsAlone(text: string, start: number, end: number): boolean {
  const before = String.fromCodePoint(text.codePointAt(start - 1) ?? 32);
  const after = String.fromCodePoint(text.codePointAt(end) ?? 32);
  // "mail@…" is an address, not a mention.
  return !USER_PART_CHAR.test(before) && before !== "@" && !USER_PART_CHAR.test(after);
}
