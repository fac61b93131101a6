import { randomInt } from "node:crypto";
import { ContentError } from "./content-error.js";

/**
 * GKI/1 plaintext padding [CLIENT]: the protobuf bytes are followed by 1..15 bytes, each equal
 * to the number of padding bytes, so the last byte says how many to strip. It hides the exact
 * length of short messages.
 */
export const MAX_PADDING = 15;

/** Returns an integer in [min, maxExclusive); node:crypto's randomInt has this shape. */
export type PadLengthSource = (min: number, maxExclusive: number) => number;

export function pad(bytes: Uint8Array, rng: PadLengthSource = randomInt): Uint8Array {
  const n = rng(1, MAX_PADDING + 1);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PADDING) {
    throw new RangeError(`padding length must be 1..${MAX_PADDING}, got ${n}`);
  }
  const out = new Uint8Array(bytes.length + n);
  out.set(bytes);
  out.fill(n, bytes.length);
  return out;
}

/** Strips the padding; returns a view into `bytes`, not a copy. */
export function unpad(bytes: Uint8Array): Uint8Array {
  const n = bytes.at(-1);
  if (n === undefined) throw new ContentError("bad-padding", "plaintext is empty");
  if (n < 1 || n > MAX_PADDING)
    throw new ContentError("bad-padding", `padding length ${n} is outside 1..${MAX_PADDING}`);
  if (n > bytes.length)
    throw new ContentError(
      "bad-padding",
      `padding length ${n} exceeds plaintext length ${bytes.length}`,
    );
  const end = bytes.length - n;
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== n)
      throw new ContentError("bad-padding", "padding bytes do not all equal the padding length");
  }
  return bytes.subarray(0, end);
}
