/** Small converters for what SQLite hands back (0/1 booleans, numbers or bigint strings, Buffers). */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === "1" || value === "t" || value === "true";
}

export function toNum(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint" || typeof value === "string") return Number(value);
  throw new TypeError(`expected a number column, got ${typeof value}`);
}

export function toNumOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNum(value);
}

export function toStr(value: unknown): string {
  if (typeof value === "string") return value;
  throw new TypeError(`expected a text column, got ${typeof value}`);
}

export function toStrOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : toStr(value);
}

export function toBuf(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  throw new TypeError("expected a binary column");
}

export type Row = Record<string, unknown>;
