/**
 * What every part of the sandbox shares: the store, the limits, the clock and
 * the connected sessions. Handlers get this instead of importing each other,
 * so the session, the router and the iq handlers stay independent files.
 */
import type { Stanza } from "../gatekeeper/stanza/index.js";
import type { SandboxLimits } from "./limits.js";
import type { SandboxLogger } from "./logger.js";
import type { SlidingWindowLimiter } from "./rate-limit.js";
import type { SandboxStore } from "./store/index.js";
import type { Account } from "./store/index.js";
import type { MediaTokens } from "./media-tokens.js";
import type { PresenceHub } from "./presence.js";
import type { SessionRegistry } from "./registry.js";

/** One logged-in connection, as seen by other parts of the sandbox. */
export interface SessionHandle {
  readonly jid: string;
  readonly account: Account;
  /** Send an ephemeral stanza now (chat states, presence); false if the connection is gone. */
  send(stanza: Stanza): boolean;
  /** New queued stanzas for this account: deliver them. */
  kick(): void;
  /** `<stream:error code text/>`, then close. */
  streamError(code: number, text?: string): void;
}

/** Async work in flight, so close() can let it finish before the database goes away. */
export class TaskTracker {
  readonly #pending = new Set<Promise<unknown>>();

  track<T>(task: Promise<T>): Promise<T> {
    this.#pending.add(task);
    const forget = (): void => void this.#pending.delete(task);
    task.then(forget, forget);
    return task;
  }

  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

export interface SandboxContext {
  store: SandboxStore;
  limits: SandboxLimits;
  logger: SandboxLogger;
  /** Unix milliseconds; injectable for tests of expiry. */
  now: () => number;
  /** Refuse partner users whose number is outside the EEA (§4.3 failure 403). */
  requireEea: boolean;
  sessions: SessionRegistry;
  tasks: TaskTracker;
  presence: PresenceHub;
  mediaTokens: MediaTokens;
  /** Base URL of the media host, as handed out in media_conn. */
  mediaHost: () => string;
  limiters: {
    messages: SlidingWindowLimiter;
    lookups: SlidingWindowLimiter;
  };
}

/** Unix seconds, for `t` attributes. */
export function unixSeconds(ctx: SandboxContext): number {
  return Math.floor(ctx.now() / 1000);
}
