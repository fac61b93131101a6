/**
 * Which logins this process acts for (docs/architecture.md, "Several processes"). One
 * process alone acts for every login and has no ownership; a worker among several acts only
 * for the logins it holds the lease of, and only while it holds it.
 */
export interface LoginOwnership {
  /** This worker's id: what the database's leases and claims name. */
  readonly workerId: string;
  /** Whether this process may act for the login now (never after its lease may have run out). */
  owns(loginId: string): boolean;
  /**
   * Keeps the login in this process while work for it runs (a command, say): rebalancing
   * gives it up only once the returned function was called. Undefined when this process does
   * not hold the login (any more): the work is the holder's (see LoginMovedError).
   */
  use(loginId: string): (() => void) | undefined;
  /** Keeps a login this process has just made, if no other holds it (see Logins.begin). */
  adopt(loginId: string): Promise<boolean>;
  /** Which worker holds a login now (for `status`); undefined while nobody does. */
  holder(loginId: string): Promise<{ workerId: string; expiresInMs: number } | undefined>;
  /** Workers alive now. */
  liveWorkers(): Promise<number>;
  /**
   * Runs `fn` while no other process runs one for `key`, and with what others wrote before
   * read fresh (the row cache emptied): making a group's room, say.
   */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * Work for a login that this process no longer holds (it moved to another worker a moment
 * ago): nothing was done, and the work is left for the login's new holder, who finds it in
 * the database (a queued Matrix event, say).
 */
export class LoginMovedError extends Error {
  override readonly name = "LoginMovedError";
  constructor(readonly loginId: string) {
    super(`login ${loginId} is held by another process now`);
  }
}
