/**
 * Text the bridge passes between networks: made well-formed, and cut short where it is quoted.
 *
 * JSON can carry a lone UTF-16 surrogate ("\ud800"), and JavaScript strings hold one happily,
 * but it is no Unicode character: Synapse answers 500 to an event that contains one, and UTF-8
 * encoders replace it anyway. Every text that leaves the bridge is cleaned the same way
 * (String.prototype.toWellFormed: each lone surrogate becomes U+FFFD).
 */

// lib ES2023 (tsconfig) does not declare these ES2024 methods; Node 20+ has them.
const stringMethods = String.prototype as unknown as {
  isWellFormed(this: string): boolean;
  toWellFormed(this: string): string;
};

/** `text` with every lone surrogate replaced by U+FFFD (the same string when there is none). */
export function wellFormed(text: string): string {
  return stringMethods.isWellFormed.call(text) ? text : stringMethods.toWellFormed.call(text);
}

/**
 * A JSON value (an event's content, a createRoom body) with every string in it, keys too,
 * well-formed. Values without a lone surrogate are returned as they are (no copy).
 */
export function wellFormedJson<T>(value: T): T {
  return clean(value) as T;
}

function clean(value: unknown): unknown {
  if (typeof value === "string") return wellFormed(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const fixed = clean(item);
      if (fixed !== item) (out ??= value.slice())[i] = fixed;
    });
    return out ?? value;
  }
  if (typeof value !== "object" || value === null || !isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const fixedKey = wellFormed(key);
    const fixed = clean(item);
    if (fixedKey === key && fixed === item) continue;
    out ??= { ...value };
    if (fixedKey !== key) delete out[key];
    out[fixedKey] = fixed;
  }
  return out ?? value;
}

/** Only objects JSON.stringify writes as objects; Buffers, Dates and class instances stay. */
function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** How many characters of user input a reply quotes at most (see excerpt). */
export const EXCERPT_LENGTH = 100;

/**
 * `text` quoted in a reply: at most `max` characters (code points, never half of one), the
 * last being "…" when `text` was longer, and well-formed. A reply must stay small whatever
 * the user sent (the homeserver refuses an event over 64 KiB).
 */
export function excerpt(text: string, max = EXCERPT_LENGTH): string {
  // Fast path, and no walk through a long text: `max` code units hold at most `max` code points.
  if (text.length <= max) return wellFormed(text);
  let count = 0;
  let keep = 0; // code units of the first max - 1 code points
  for (const ch of text) {
    count += 1;
    if (count > max) return `${wellFormed(text.slice(0, keep))}…`;
    if (count < max) keep += ch.length;
  }
  return wellFormed(text);
}
