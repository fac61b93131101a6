import type { Knex } from "knex";
import { type DatabaseDialect, dialectOf } from "../../util/sql-dialect.js";
import { isTransaction } from "./transactions.js";

export type Row = Record<string, unknown>;

/**
 * SQL on one connection, straight through its driver: better-sqlite3 (prepared statements,
 * kept by src/db), pg named statements. The Signal stores use it to run an operation's
 * statements on one connection held without a transaction (knex can only do that inside
 * one), and it skips knex's query building, which costs more than the statement itself on
 * SQLite (measured: ~25–30 µs per point read or write through knex, 3–15 µs direct).
 * Statements are written once with `?` placeholders. Each one still emits knex's "query"
 * event (bridge_db_queries_total, tests counting statements).
 */
export interface SqlExecutor {
  readonly dialect: DatabaseDialect;
  /** The rows of a query (point reads return zero or one). */
  all(sql: string, params: readonly unknown[], options?: RunOptions): Promise<Row[]>;
  /** Runs a write; resolves with the number of rows it changed. */
  run(sql: string, params: readonly unknown[], options?: RunOptions): Promise<number>;
}

export interface RunOptions {
  /** false for a statement whose text varies (a multi-row insert): not kept prepared. */
  prepare?: boolean;
}

/** better-sqlite3: synchronous; src/db keeps its prepared statements per connection. */
interface SqliteStatement {
  readonly reader: boolean;
  all(params: unknown[]): Row[];
  run(params: unknown[]): { changes: number };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
}
interface PgConnection {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{
    rows: Row[];
    rowCount: number | null;
  }>;
}
interface KnexConnection {
  __knexUid?: string;
  __knexTxId?: string;
}

const pgNames = new Map<string, string>();
const pgTexts = new Map<string, string>();

function pgText(sql: string): string {
  let text = pgTexts.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    pgTexts.set(sql, text);
  }
  return text;
}

function pgName(sql: string): string {
  let name = pgNames.get(sql);
  if (name === undefined) {
    name = `gkb_signal_${pgNames.size + 1}`;
    pgNames.set(sql, name);
  }
  return name;
}

class DriverExecutor implements SqlExecutor {
  constructor(
    private readonly client: Knex.Client,
    private readonly conn: unknown,
    readonly dialect: DatabaseDialect,
  ) {}

  all(sql: string, params: readonly unknown[], options: RunOptions = {}): Promise<Row[]> {
    return this.execute(sql, params, options, "all") as Promise<Row[]>;
  }

  run(sql: string, params: readonly unknown[], options: RunOptions = {}): Promise<number> {
    return this.execute(sql, params, options, "run") as Promise<number>;
  }

  private async execute(
    sql: string,
    params: readonly unknown[],
    options: RunOptions,
    kind: "all" | "run",
  ): Promise<Row[] | number> {
    const bindings = params as unknown[];
    const { __knexUid, __knexTxId } = this.conn as KnexConnection;
    this.client.emit("query", { sql, bindings, method: "raw", __knexUid, __knexTxId });
    try {
      return this.dialect === "postgres"
        ? await this.pg(sql, bindings, options, kind)
        : await this.sqlite(sql, bindings, options, kind);
    } catch (err) {
      this.client.emit("query-error", err, { sql, bindings, __knexUid, __knexTxId });
      throw err;
    }
  }

  private async pg(sql: string, values: unknown[], options: RunOptions, kind: "all" | "run") {
    const text = pgText(sql);
    const name = options.prepare === false ? {} : { name: pgName(sql) };
    const result = await (this.conn as PgConnection).query({ ...name, text, values });
    return kind === "all" ? result.rows : (result.rowCount ?? 0);
  }

  private sqlite(sql: string, params: unknown[], options: RunOptions, kind: "all" | "run") {
    const conn = this.conn as SqliteConnection;
    if (options.prepare === false && params.length === 0) {
      conn.exec(sql); // transaction control with a one-off savepoint name
      return kind === "all" ? [] : 0;
    }
    // better-sqlite3 binds no booleans (knex turns them into 0/1 too).
    const bindings = params.map((p) => (typeof p === "boolean" ? Number(p) : p));
    const statement = conn.prepare(sql);
    return kind === "all" ? statement.all(bindings) : statement.run(bindings).changes;
  }
}

export interface HeldConnection {
  readonly exec: SqlExecutor;
  /** Gives the connection back to the pool (nothing for a transaction's own). */
  release(): Promise<void>;
}

/**
 * The connection `dbOrTrx` runs on, held until release(): a transaction's own connection, or
 * one taken from the pool (on SQLite the only one, so holding it excludes every other
 * statement of the process, as an open transaction does).
 */
export async function holdConnection(dbOrTrx: Knex): Promise<HeldConnection> {
  if (isTransaction(dbOrTrx) && dbOrTrx.isCompleted()) {
    throw new Error("Transaction query already complete");
  }
  const client = dbOrTrx.client as Knex.Client;
  const conn: unknown = await client.acquireConnection();
  return {
    exec: new DriverExecutor(client, conn, dialectOf(dbOrTrx)),
    release: async () => {
      await client.releaseConnection(conn);
    },
  };
}

/** Runs each statement on a connection taken for just that statement (or the transaction's). */
export function executorOn(dbOrTrx: Knex): SqlExecutor {
  const each = async <T>(fn: (exec: SqlExecutor) => Promise<T>): Promise<T> => {
    const held = await holdConnection(dbOrTrx);
    try {
      return await fn(held.exec);
    } finally {
      await held.release();
    }
  };
  return {
    dialect: dialectOf(dbOrTrx),
    all: (sql, params, options) => each((e) => e.all(sql, params, options)),
    run: (sql, params, options) => each((e) => e.run(sql, params, options)),
  };
}
