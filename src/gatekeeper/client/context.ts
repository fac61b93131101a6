import type { Knex } from "knex";
import type { SignalAccount, SignalAddress } from "../signal/index.js";
import type { Connection } from "./connection.js";
import type { EventHub } from "./events.js";
import type { InboxRepository } from "./inbox-repository.js";
import type { KeyManager } from "./keys.js";
import type { ClientLogger } from "./logger.js";
import type { SentRepository } from "./sent-repository.js";
import type { KeyedLock } from "./serial.js";
import type { GatekeeperClientEvents } from "./types.js";

/** What the inbound and outbound halves share with the client that owns them. */
export interface ClientCore {
  readonly db: Knex;
  readonly logger: ClientLogger;
  readonly events: EventHub<GatekeeperClientEvents>;
  /**
   * Emits an event whose stanza is acked only once the application handled it (a message, a
   * receipt, a group change). Rejects with ClientStoppedError once stop() was called.
   */
  handOver<K extends keyof GatekeeperClientEvents>(
    event: K,
    payload: GatekeeperClientEvents[K],
  ): Promise<void>;
  /** Serialises session work per peer JID. */
  readonly peerLocks: KeyedLock;
  readonly keys: KeyManager;
  /** Sends to a peer whose identity change was not confirmed are refused. */
  readonly holdOnIdentityChange: boolean;
  /** The client logged in with `groups` (docs §19.1); without it group stanzas are refused. */
  readonly groups: boolean;
  /** The logged-in account's state; throws before the first login. */
  account(): AccountState;
  /** The account's state, waiting for the first login to establish it. */
  accountReady(): Promise<AccountState>;
  /**
   * A `<notification type="identity">` about `jid`: false when a received message already
   * showed (and announced) that change, so neither a second event nor a session reset is due.
   */
  identityNotified(jid: string): boolean;
  /** The current connection, waiting for one if needed (until `deadline`, ms since epoch). */
  waitForConnection(deadline?: number): Promise<Connection>;
}

/** Per-account state, known once the gatekeeper told us our JID. */
export interface AccountState {
  /** Our JID; owner of the Signal, inbox and sent rows. */
  owner: string;
  signal: SignalAccount;
  inbox: InboxRepository;
  sent: SentRepository;
}

/**
 * The Signal address of a peer. GKI/1 has one device per account and message stanzas do not
 * name the sender's device, so both ends key a peer's session by its JID and device 1,
 * whatever device id its bundle states (libsignal's crypto does not depend on it).
 */
export const REMOTE_DEVICE_ID = 1;

export function peerAddress(jid: string): SignalAddress {
  return { name: jid, deviceId: REMOTE_DEVICE_ID };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
