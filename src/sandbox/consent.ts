/**
 * Who may reach whom (docs/protocol.md §12): a partner user reaches a native
 * user only if that user enabled interop and allows the partner; a user who
 * did not opt in is indistinguishable from one who does not exist.
 *
 * [OURS, sandbox] Native users reach each other freely, and reach a partner
 * user only if that user is enlisted and they themselves allow its partner.
 * Partner users never reach partner users (no cross-partner interop).
 */
import type { SandboxContext } from "./context.js";
import type { Account } from "./store/index.js";

export function allowsPartner(account: Account, partnerId: string | null): boolean {
  if (partnerId === null || !account.interop.enabled) return false;
  return account.interop.partners === "*" || account.interop.partners.includes(partnerId);
}

/** The recipient account if `sender` may address it, else null (unknown and unreachable look the same). */
export async function reachableAccount(
  ctx: SandboxContext,
  sender: Account,
  recipientJid: string,
): Promise<Account | null> {
  if (recipientJid === sender.jid) return null;
  const recipient = await ctx.store.accounts.get(recipientJid);
  if (!recipient) return null;
  if (sender.kind === "interop") {
    return recipient.kind === "native" && allowsPartner(recipient, sender.partnerId)
      ? recipient
      : null;
  }
  if (recipient.kind === "native") return recipient;
  if (!allowsPartner(sender, recipient.partnerId)) return null;
  const enlistment = await ctx.store.enlistments.byJid(recipient.jid);
  if (!enlistment || enlistment.phone !== recipient.phone) return null;
  const partner =
    recipient.partnerId === null ? null : await ctx.store.partners.get(recipient.partnerId);
  return partner && !partner.suspended ? recipient : null;
}
