/**
 * Bot commands as users type them: "!gk start +49 151 1234567" anywhere, or "start +49…"
 * where no prefix is needed (the management room). Names are case-insensitive.
 */
export interface ParsedCommand {
  /** Lower case; "" when only the prefix was sent. */
  name: string;
  /** Whitespace-separated arguments. */
  args: string[];
  /** Everything after the name, trimmed (for arguments with spaces, like phone numbers). */
  rest: string;
}

export interface ParseOptions {
  prefix: string;
  /** Without the prefix the text is not a command (any room but the management room). */
  prefixRequired: boolean;
}

export function parseCommand(body: string, options: ParseOptions): ParsedCommand | undefined {
  let text = body.trim();
  const stripped = stripPrefix(text, options.prefix);
  if (stripped !== undefined) text = stripped;
  else if (options.prefixRequired) return undefined;
  if (text === "" && stripped === undefined) return undefined;
  const match = /^(\S*)\s*([\s\S]*)$/.exec(text);
  const name = (match?.[1] ?? "").toLowerCase();
  const rest = (match?.[2] ?? "").trim();
  return { name, args: rest === "" ? [] : rest.split(/\s+/), rest };
}

/** The text after the prefix, or undefined when it does not start with the prefix as a word. */
function stripPrefix(text: string, prefix: string): string | undefined {
  if (prefix === "") return undefined;
  if (text.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return undefined;
  const after = text.slice(prefix.length);
  // "!gkfoo" is not "!gk foo".
  if (after !== "" && !/^\s/.test(after)) return undefined;
  return after.trim();
}
