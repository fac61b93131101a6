/**
 * Client transaction ids for sends that must be idempotent. The homeserver answers a repeated
 * PUT /send/{type}/{txnId} from the same user with the first event's id, so a txn id derived
 * from the caller's stable key turns "retry after a crash" into "get the same event back".
 */
import { createHash, randomUUID } from "node:crypto";

const PREFIX = "gkb.";

/**
 * Every event the bridge posts carries its txn id in its content under this key. The
 * homeserver's own txn id memory does not survive its restart (Synapse keeps it in memory),
 * so after a send that got no answer the bridge looks for this before sending again.
 */
export const TXN_MARKER = "org.gatekeeper_bridge.txn_id";

/** A stable txn id for `txnKey`: the same key always gives the same id. */
export function txnIdFor(txnKey: string): string {
  if (txnKey === "") throw new RangeError("empty txn key");
  // 128 bits of SHA-256: collision-free in practice, short in logs and URLs.
  return PREFIX + createHash("sha256").update(txnKey, "utf8").digest("hex").slice(0, 32);
}

/** A fresh txn id for sends that have no stable key (a retry then may post twice). */
export function randomTxnId(): string {
  return PREFIX + "r." + randomUUID();
}
