import knexFactory from "knex";
import type { Knex } from "knex";

/** Where the bridge keeps its state: one SQLite file (default) or a PostgreSQL database. */
export type DatabaseConfig =
  | { type: "sqlite"; filename: string /* ":memory:" allowed */ }
  | { type: "postgres"; url: string; schema?: string; poolMax?: number };

export { type DatabaseDialect, dialectOf } from "../util/sql-dialect.js";

/** Where knex's own warnings go (pool errors, deprecations); knex prints them by default. */
export interface DatabaseLogger {
  warn(message: string): void;
  error?(message: string): void;
}

export interface OpenDatabaseOptions {
  logger?: DatabaseLogger;
}

/** Thrown when the database cannot be opened; `code` says what to fix. */
export class DatabaseError extends Error {
  constructor(
    readonly code: "invalid-config" | "connect-failed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DatabaseError";
  }
}

// How long a writer waits for another writer's lock on the SQLite file before SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT_MS = 5000;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A better-sqlite3 connection, as knex's pool hands it to afterCreate (synchronous). */
interface SqliteConnection {
  exec(sql: string): unknown;
  prepare(sql: string): unknown;
}

/** Prepared statements kept per connection (the bridge runs a few dozen distinct ones). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * knex prepares every statement anew (a tenth of the bridge's CPU time under load, by the
 * load bench's profile); the bridge runs the same few dozen again and again. A prepared
 * better-sqlite3 statement can be run any number of times, one run at a time, which is how
 * knex runs them (synchronously, on the pool's single connection).
 */
function cacheStatements(conn: SqliteConnection): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, unknown>();
  conn.prepare = (sql: string): unknown => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(sql, statement);
    }
    return statement;
  };
}

function sqliteKnexConfig(filename: string): Knex.Config {
  const inMemory = filename === ":memory:" || filename === "";
  // WAL lets readers run beside the single writer; it is meaningless for :memory:.
  const pragmas = [
    "PRAGMA foreign_keys = ON;",
    `PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS};`,
    // WAL with synchronous=NORMAL survives a killed process without losing a committed
    // transaction (only an OS crash or power loss can drop the last few), at a fraction of
    // FULL's fsync cost per message.
    ...(inMemory ? [] : ["PRAGMA journal_mode = WAL;", "PRAGMA synchronous = NORMAL;"]),
  ].join(" ");
  return {
    // better-sqlite3: synchronous, so a statement costs microseconds instead of a round trip
    // through libuv's thread pool (about 5× less per statement, measured by the load bench).
    client: "better-sqlite3",
    connection: { filename: inMemory ? ":memory:" : filename },
    useNullAsDefault: true,
    // One connection: SQLite has one writer anyway, and a ":memory:" database lives and dies
    // with its connection, so the pool must never drop or add one.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        try {
          conn.exec(pragmas);
          cacheStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err instanceof Error ? err : new Error(String(err)), conn);
        }
      },
    },
  };
}

function postgresKnexConfig(url: string, schema: string | undefined, poolMax: number): Knex.Config {
  return {
    client: "pg",
    connection: url,
    pool: { min: 0, max: poolMax },
    ...(schema ? { searchPath: [schema] } : {}),
  };
}

function knexLog(logger: DatabaseLogger | undefined): Pick<Knex.Config, "log"> {
  if (!logger) return {};
  const error = logger.error?.bind(logger) ?? logger.warn.bind(logger);
  return {
    log: {
      warn: (m: unknown) => logger.warn(String(m)),
      error: (m: unknown) => error(String(m)),
      deprecate: (method: string, alternative: string) =>
        logger.warn(`knex: ${method} is deprecated, use ${alternative}`),
      debug: () => undefined,
    },
  };
}

async function ensureSchema(db: Knex, schema: string): Promise<void> {
  // Look first: CREATE SCHEMA IF NOT EXISTS still needs CREATE rights on the database,
  // which a production role that owns only its schema may not have.
  const found = await db("information_schema.schemata").where({ schema_name: schema }).first();
  if (!found) await db.raw("CREATE SCHEMA IF NOT EXISTS ??", [schema]);
}

/**
 * Opens (and checks) a database connection. Close it with `db.destroy()`.
 * Migrations are separate: call `migrate(db)` after opening.
 */
export async function openDatabase(
  cfg: DatabaseConfig,
  options: OpenDatabaseOptions = {},
): Promise<Knex> {
  const log = knexLog(options.logger);
  let db: Knex;
  if (cfg.type === "sqlite") {
    db = knexFactory({ ...sqliteKnexConfig(cfg.filename), ...log });
  } else if (cfg.type === "postgres") {
    if (cfg.schema !== undefined && !SCHEMA_NAME.test(cfg.schema)) {
      throw new DatabaseError("invalid-config", `invalid PostgreSQL schema name "${cfg.schema}"`);
    }
    db = knexFactory({ ...postgresKnexConfig(cfg.url, cfg.schema, cfg.poolMax ?? 10), ...log });
  } else {
    throw new DatabaseError("invalid-config", "database type must be sqlite or postgres");
  }
  try {
    await db.raw("select 1");
    if (cfg.type === "postgres" && cfg.schema) await ensureSchema(db, cfg.schema);
  } catch (err) {
    await db.destroy();
    const where = cfg.type === "sqlite" ? cfg.filename : redactUrl(cfg.url);
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseError(
      "connect-failed",
      `cannot open ${cfg.type} database ${where}: ${reason}`,
      {
        cause: err,
      },
    );
  }
  return db;
}

/** A connection URL without its password, for error messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable url>";
  }
}
