import type { Bytes } from "./bytes.js";
import type { SignalAddress } from "./address.js";
import { SignalError } from "./errors.js";
import type { ErrorHints } from "./errors.js";

/** A peer's identity key changed. `blocked`: policy refused it until confirmIdentity(). */
export interface IdentityChangeEvent {
  owner: string;
  address: SignalAddress;
  oldKey: Bytes;
  newKey: Bytes;
  blocked: boolean;
  at: number;
}

/**
 * What the stores observed during one libsignal operation. libsignal only sees a thrown
 * store error as a generic failure, and some outcomes (an identity change) must be acted on
 * after the transaction, so the stores note them here.
 */
export class StoreJournal implements ErrorHints {
  missingKey?: string;
  storageError?: unknown;
  /** Identity keys replaced and saved (trust-on-change). */
  readonly identityChanges: IdentityChangeEvent[] = [];
  /** Identity changes refused by isTrustedIdentity; recorded as pending after rollback. */
  readonly blockedIdentities: IdentityChangeEvent[] = [];

  /** Runs a database call, remembering a failure that is not ours to explain. */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof SignalError) && this.storageError === undefined) {
        this.storageError = err;
      }
      throw err;
    }
  }

  noteMissingKey(what: string): SignalError {
    this.missingKey ??= what;
    return new SignalError("invalid-key-id", `no ${what}`);
  }
}
