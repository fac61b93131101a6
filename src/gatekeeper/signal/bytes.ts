/** Byte helpers between libsignal (Uint8Array<ArrayBuffer>), the drivers (Buffer) and callers. */

export type Bytes = Uint8Array<ArrayBuffer>;

/** A private copy on its own ArrayBuffer, as libsignal's typings require. */
export function copyBytes(data: Uint8Array): Bytes {
  return new Uint8Array(data);
}

/** Reads a binary column (Buffer from both sqlite3 and pg). */
export function bytesFromDb(value: unknown): Bytes {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  throw new TypeError("expected a binary column value");
}

export function bytesToDb(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Reads an integer column; pg returns 64-bit integers as strings. */
export function numberFromDb(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) throw new TypeError("expected a numeric column value");
  return n;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}
