/** Stream tokens (`s<position>`) and the RoomEventFilter subset the harness applies. */
import { invalidParam } from "../errors.js";
import type { JsonObject, StoredEvent } from "../types.js";

export function parseToken(token: string): number {
  const m = /^s?(\d+)$/.exec(token);
  if (!m) throw invalidParam("Invalid pagination token");
  return Number(m[1]);
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    "^" +
      pattern
        .split("*")
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*") +
      "$",
  );
  return re.test(value);
}

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;

/** types / not_types (with `*`), senders / not_senders, contains_url. */
export function eventMatchesFilter(se: StoredEvent, filter: JsonObject | undefined): boolean {
  if (!filter) return true;
  const e = se.event;
  const types = strings(filter.types);
  if (types && !types.some((p) => globMatch(p, e.type))) return false;
  if (strings(filter.not_types)?.some((p) => globMatch(p, e.type))) return false;
  const senders = strings(filter.senders);
  if (senders && !senders.includes(e.sender)) return false;
  if (strings(filter.not_senders)?.includes(e.sender)) return false;
  if (typeof filter.contains_url === "boolean") {
    const has = typeof e.content.url === "string";
    if (has !== filter.contains_url) return false;
  }
  return true;
}
