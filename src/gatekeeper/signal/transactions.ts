import type { Knex } from "knex";
import { dialectOf } from "../../db/database.js";

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

/**
 * Serialises Signal operations on one peer of one account until the transaction ends.
 * Two concurrent operations on a session (a send and a receive) would otherwise both load
 * the same ratchet state and the later save would lose the other's step. SQLite needs no
 * lock: its single pooled connection already runs one transaction at a time.
 */
export async function lockPeer(t: Knex.Transaction, owner: string, name: string): Promise<void> {
  if (dialectOf(t) !== "postgres") return;
  await t.raw("select pg_advisory_xact_lock(hashtextextended(?, 0))", [
    `gkb-signal:${owner}:${name}`,
  ]);
}

/** The outermost transaction, whose commit makes everything durable. */
function rootTransaction(trx: Knex.Transaction): Knex.Transaction {
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
