/** Strict base64 (standard alphabet, padding optional): null when the text is not canonical. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  // Buffer is lenient (it skips junk and tolerates bad padding); require a round trip.
  const canonical = bytes.toString("base64");
  return canonical === text || canonical.replace(/=+$/, "") === text ? new Uint8Array(bytes) : null;
}
