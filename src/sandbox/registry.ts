/** The connected sessions, one per account ("one connection per client", docs/protocol.md §1). */
import type { SessionHandle } from "./context.js";

export class SessionRegistry {
  readonly #byJid = new Map<string, SessionHandle>();
  /** Sessions closed because their account connected again (a client connected twice). */
  replaced = 0;

  get(jid: string): SessionHandle | undefined {
    return this.#byJid.get(jid);
  }

  /** Registers `session`; an older session of the same account is told it was replaced (409) and closed. */
  claim(session: SessionHandle): void {
    const old = this.#byJid.get(session.jid);
    this.#byJid.set(session.jid, session);
    if (old && old !== session) {
      this.replaced += 1;
      old.streamError(409, "replaced");
    }
  }

  /** Forgets `session` unless a newer one already took its place. */
  release(session: SessionHandle): void {
    if (this.#byJid.get(session.jid) === session) this.#byJid.delete(session.jid);
  }

  /** Kicks delivery for a connected account. */
  kick(jid: string): void {
    this.#byJid.get(jid)?.kick();
  }

  all(): SessionHandle[] {
    return [...this.#byJid.values()];
  }

  get size(): number {
    return this.#byJid.size;
  }
}
