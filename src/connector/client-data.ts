/**
 * Forgetting a login: everything the GKI/1 client and the Signal stores keep for the account.
 * The client's own tables have no delete of their own (a client never forgets itself), so
 * the network connector, which decides that a login is gone, clears them here.
 */
import type { Knex } from "knex";
import { deleteSignalData } from "../gatekeeper/signal/index.js";

const CLIENT_TABLES = ["gk_client_inbox", "gk_client_sent", "gk_client_accounts"] as const;

export async function deleteAccountData(db: Knex, owners: readonly string[]): Promise<void> {
  await db.transaction(async (trx) => {
    for (const owner of new Set(owners)) {
      for (const table of CLIENT_TABLES) await trx(table).where({ owner }).delete();
      await deleteSignalData(trx, owner);
    }
  });
}
