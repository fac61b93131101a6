/** Splitting a typed command line into words. */

/** The first word of `text` (or a "quoted" / 'quoted' stretch) and the rest, trimmed; undefined for an unclosed quote. */
export function takeWord(text: string): [string | undefined, string] {
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, 1);
    return end < 0 ? [undefined, ""] : [text.slice(1, end), text.slice(end + 1).trim()];
  }
  const match = /^(\S*)\s*([\s\S]*)$/.exec(text);
  return [match?.[1] ?? "", match?.[2]?.trim() ?? ""];
}
