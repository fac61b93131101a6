import type { Knex } from "knex";
import { equalBytes } from "./bytes.js";
import type { Bytes } from "./bytes.js";
import type { RemoteIdentity } from "./identity-key-store.js";
import type { IdentityChangeEvent } from "./store-journal.js";
import { afterCommit } from "./transactions.js";

export type IdentityChangeListener = (change: IdentityChangeEvent) => void | Promise<void>;

/**
 * Tells the listener about identity changes once they are durable: at once after our own
 * transaction, or after the caller's transaction commits.
 */
export function announceIdentityChanges(
  listener: IdentityChangeListener | undefined,
  trx: Knex.Transaction | undefined,
  changes: readonly IdentityChangeEvent[],
  readIdentity: (name: string) => Promise<RemoteIdentity | null>,
): void {
  if (!listener || changes.length === 0) return;
  const fire = () => {
    for (const change of changes) {
      try {
        void Promise.resolve(listener(change)).catch(() => undefined);
      } catch {
        // A failing listener must not break message processing.
      }
    }
  };
  if (!trx) {
    fire();
    return;
  }
  // knex resolves a transaction rolled back without an error like a commit, so check
  // that the change really is in the database before announcing it.
  afterCommit(trx, async () => {
    const first = changes[0]!;
    const row = await readIdentity(first.address.name);
    const keys = [row?.identityKey, row?.pendingKey].filter((k): k is Bytes => !!k);
    if (keys.some((k) => equalBytes(k, first.newKey))) fire();
  });
}
