/** Why a repository refused a write; `code` lets the caller answer the user sensibly. */
export type RepositoryErrorCode = "duplicate" | "not-found" | "invalid";

export class RepositoryError extends Error {
  constructor(
    readonly code: RepositoryErrorCode,
    message: string,
    /** The column or field the problem is about, when there is one. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RepositoryError";
  }
}

/** A unique-constraint violation, on SQLite (SQLITE_CONSTRAINT) or PostgreSQL (23505). */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = "code" in err ? String(err.code) : "";
  const message = err instanceof Error ? err.message : "";
  return code === "23505" || (code.startsWith("SQLITE_CONSTRAINT") && message.includes("UNIQUE"));
}

/** A foreign-key violation: the row refers to one that does not exist. */
export function isForeignKeyViolation(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = "code" in err ? String(err.code) : "";
  const message = err instanceof Error ? err.message : "";
  return (
    code === "23503" || (code.startsWith("SQLITE_CONSTRAINT") && message.includes("FOREIGN KEY"))
  );
}
