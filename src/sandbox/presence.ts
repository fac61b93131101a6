/**
 * Presence and chat states (docs/protocol.md §13), both ephemeral: held in
 * memory, sent only to connected peers, never queued or acked.
 */
import {
  type ChatStateStanza,
  type PresenceStanza,
  isGroupJid,
} from "../gatekeeper/stanza/index.js";
import { reachableAccount } from "./consent.js";
import type { SandboxContext, SessionHandle } from "./context.js";
import { routeGroupChatState } from "./groups/index.js";
import type { Account } from "./store/index.js";

interface PresenceState {
  available: boolean;
  /** Unix seconds when the user was last available. */
  last?: number;
}

export class PresenceHub {
  readonly #state = new Map<string, PresenceState>();
  /** Subscribed-to JID → subscribers' JIDs. */
  readonly #subscribers = new Map<string, Set<string>>();
  /** Subscriber JID → JIDs it watches (to clean up on disconnect). */
  readonly #watching = new Map<string, Set<string>>();

  /** A client's own `<presence type="available|unavailable" [name]/>`. */
  async setOwn(ctx: SandboxContext, session: SessionHandle, p: PresenceStanza): Promise<void> {
    if (p.name !== undefined && p.name !== "")
      await ctx.store.accounts.setName(session.jid, p.name);
    if (p.type === "available") await this.#change(ctx, session.jid, { available: true });
    else
      await this.#change(ctx, session.jid, {
        available: false,
        last: Math.floor(ctx.now() / 1000),
      });
  }

  /** `<presence type="subscribe" to="J"/>`: answer now, and on each change while connected. */
  async subscribe(ctx: SandboxContext, session: SessionHandle, target: string): Promise<void> {
    const reachable = await reachableAccount(ctx, session.account, target);
    if (!reachable || (await ctx.store.contacts.eitherBlocked(session.jid, target))) {
      // Unreachable looks like a user who is simply never online.
      session.send({ kind: "presence", from: target, type: "unavailable" });
      return;
    }
    let subs = this.#subscribers.get(target);
    if (!subs) this.#subscribers.set(target, (subs = new Set()));
    subs.add(session.jid);
    let watching = this.#watching.get(session.jid);
    if (!watching) this.#watching.set(session.jid, (watching = new Set()));
    watching.add(target);
    session.send(this.#stanzaFor(target));
  }

  /** The connection of `jid` ended: it is unavailable now, and its subscriptions end. */
  async disconnected(ctx: SandboxContext, jid: string): Promise<void> {
    for (const target of this.#watching.get(jid) ?? []) this.#subscribers.get(target)?.delete(jid);
    this.#watching.delete(jid);
    if (this.#state.get(jid)?.available) {
      await this.#change(ctx, jid, { available: false, last: Math.floor(ctx.now() / 1000) });
    }
  }

  #stanzaFor(jid: string): PresenceStanza {
    const state = this.#state.get(jid);
    if (state?.available) return { kind: "presence", from: jid, type: "available" };
    return {
      kind: "presence",
      from: jid,
      type: "unavailable",
      ...(state?.last === undefined ? {} : { last: state.last }),
    };
  }

  async #change(ctx: SandboxContext, jid: string, state: PresenceState): Promise<void> {
    const before = this.#state.get(jid);
    this.#state.set(jid, state);
    if (before?.available === state.available && before !== undefined) return;
    const stanza = this.#stanzaFor(jid);
    for (const subscriber of this.#subscribers.get(jid) ?? []) {
      if (await ctx.store.contacts.eitherBlocked(jid, subscriber)) continue;
      ctx.sessions.get(subscriber)?.send(stanza);
    }
  }
}

/** `<chatstate to>`: only to a connected peer that has a conversation with the sender (§13). */
export async function routeChatState(
  ctx: SandboxContext,
  sender: Account,
  c: ChatStateStanza,
): Promise<void> {
  if (c.to === undefined) return;
  if (isGroupJid(c.to)) return routeGroupChatState(ctx, sender, c);
  const peer = ctx.sessions.get(c.to);
  if (!peer) return;
  const { contacts } = ctx.store;
  if (!(await contacts.hasConversation(sender.jid, c.to))) return;
  if (await contacts.eitherBlocked(sender.jid, c.to)) return;
  if (!(await reachableAccount(ctx, sender, c.to))) return;
  peer.send({
    kind: "chatstate",
    from: sender.jid,
    state: c.state,
    ...(c.media === undefined ? {} : { media: c.media }),
  });
}
