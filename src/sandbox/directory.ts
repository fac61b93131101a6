/**
 * `xmlns="usync"` (docs/protocol.md §12.1): phone number → JID, only for
 * users who opted in to the caller's partner. Everyone else, existing or not,
 * gets the same `type="out"` entry, and every looked-up number counts toward
 * the caller's hourly limit, so the directory cannot be enumerated.
 */
import {
  type LookupResultItem,
  buildLookupResult,
  parseLookupQuery,
} from "../gatekeeper/stanza/index.js";
import { allowsPartner, reachableAccount } from "./consent.js";
import type { SandboxContext } from "./context.js";
import { SandboxError } from "./errors.js";
import type { IqHandler } from "./iq-context.js";
import { retryAfterSeconds } from "./rate-limit.js";
import type { Account } from "./store/index.js";

/** [OURS, sandbox] A native caller finds native users, and enlisted partner users it allows. */
async function resolve(ctx: SandboxContext, me: Account, phone: string): Promise<Account | null> {
  const native = await ctx.store.accounts.findNativeByPhone(phone);
  if (native) {
    if (me.kind === "native") return native.jid === me.jid ? null : native;
    return allowsPartner(native, me.partnerId) ? native : null;
  }
  if (me.kind !== "native") return null;
  const enlistment = await ctx.store.enlistments.byPhone(phone);
  return enlistment ? reachableAccount(ctx, me, enlistment.jid) : null;
}

export const handleUsyncIq: IqHandler = async (ctx, _session, me, iq) => {
  if (iq.type !== "get") throw new SandboxError(400, "usync-is-get");
  const phones = parseLookupQuery(iq.children);
  if (phones.length > ctx.limits.lookupContactsPerQuery)
    throw new SandboxError(400, "too-many-contacts");
  const rate = ctx.limiters.lookups.take(me.jid, phones.length);
  if (!rate.ok)
    throw new SandboxError(429, "lookups", { retryAfter: retryAfterSeconds(rate.retryAfterMs) });

  const items: LookupResultItem[] = [];
  for (const contact of phones) {
    const found = await resolve(ctx, me, contact);
    if (!found) {
      items.push({ contact });
      continue;
    }
    const item: LookupResultItem = { contact, jid: found.jid };
    if (found.name !== null && found.name !== "") item.name = found.name;
    items.push(item);
  }
  return buildLookupResult(items);
};
