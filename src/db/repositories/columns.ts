/**
 * Column value conversions shared by the repositories. PostgreSQL returns bigint columns
 * as strings (they may exceed 2^53); ours hold milliseconds and counters, which do not.
 */
export function num(v: number | string): number {
  return typeof v === "number" ? v : Number(v);
}

export function numOrNull(v: number | string | null): number | null {
  return v === null ? null : num(v);
}

export function bytes(v: Buffer | Uint8Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
}

/** Short text for a last_error column: errors can be long, and must not carry secrets. */
export function errorText(error: string): string {
  return error.length > 1000 ? `${error.slice(0, 997)}...` : error;
}
