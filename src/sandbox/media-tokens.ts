/**
 * Bearer tokens for the media host, handed out by `<iq xmlns="w:m"><media_conn/></iq>`
 * (docs/protocol.md §11.2). In memory: a restarted sandbox makes clients ask again.
 */
import { randomBytes } from "node:crypto";

export interface MediaGrant {
  jid: string;
  kind: "native" | "interop";
  expiresAt: number;
}

export class MediaTokens {
  readonly #grants = new Map<string, MediaGrant>();

  constructor(
    private readonly now: () => number,
    private readonly ttlSeconds: number,
  ) {}

  issue(jid: string, kind: MediaGrant["kind"]): { token: string; ttl: number } {
    this.#prune();
    const token = randomBytes(24).toString("base64url");
    this.#grants.set(token, { jid, kind, expiresAt: this.now() + this.ttlSeconds * 1000 });
    return { token, ttl: this.ttlSeconds };
  }

  /** The grant behind a live token, or null. */
  check(token: string): MediaGrant | null {
    const grant = this.#grants.get(token);
    if (!grant) return null;
    if (grant.expiresAt <= this.now()) {
      this.#grants.delete(token);
      return null;
    }
    return grant;
  }

  revokeFor(jid: string): void {
    for (const [token, grant] of this.#grants) if (grant.jid === jid) this.#grants.delete(token);
  }

  #prune(): void {
    const now = this.now();
    for (const [token, grant] of this.#grants)
      if (grant.expiresAt <= now) this.#grants.delete(token);
  }
}
