import type { Knex } from "knex";

/**
 * Runs `fn` atomically: in a new transaction, or in a savepoint of the caller's `trx` so a
 * failed Signal operation leaves the caller's transaction usable.
 */
export async function inTransaction<T>(
  db: Knex,
  trx: Knex.Transaction | undefined,
  fn: (t: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return trx ? trx.transaction(fn) : db.transaction(fn);
}

/** The outermost transaction, whose commit makes everything durable. */
export function rootTransaction(trx: Knex.Transaction): Knex.Transaction {
  let root = trx;
  while (root.parentTransaction) root = root.parentTransaction;
  return root;
}

/** Calls `fn` once `trx` has committed; never if it rolls back with an error. */
export function afterCommit(trx: Knex.Transaction, fn: () => void | Promise<void>): void {
  rootTransaction(trx)
    .executionPromise.then(
      () => fn(),
      () => undefined,
    )
    .catch(() => undefined);
}

/** Whether `db` is a transaction (or savepoint) rather than the knex instance. */
export function isTransaction(db: Knex): db is Knex.Transaction {
  return (db as { isTransaction?: unknown }).isTransaction === true;
}
