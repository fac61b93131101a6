/** GKI/1 addresses (docs/protocol.md §2). */

/** The gatekeeper's own JID. */
export const JID_SERVER = "gk";

const LID_RE = /^(\d{15})@lid\.gk$/;
const INTEROP_RE = /^([a-z0-9-]{1,32})\.([A-Za-z0-9_-]{1,64})@interop$/;
const PARTNER_ID_RE = /^[a-z0-9-]{1,32}$/;
const ACCOUNT_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export type Jid =
  | { kind: "server"; jid: "gk" }
  | { kind: "lid"; jid: string; lid: string }
  | { kind: "interop"; jid: string; partnerId: string; accountId: string };

/** Parses a JID string; null when it is not one of the three GKI/1 forms. */
export function parseJid(s: string): Jid | null {
  if (s === JID_SERVER) return { kind: "server", jid: JID_SERVER };
  const lid = LID_RE.exec(s);
  if (lid) return { kind: "lid", jid: s, lid: lid[1] as string };
  // partnerId has no '.', so the first '.' separates it from the accountId (which has none either).
  const interop = INTEROP_RE.exec(s);
  if (interop)
    return {
      kind: "interop",
      jid: s,
      partnerId: interop[1] as string,
      accountId: interop[2] as string,
    };
  return null;
}

export function isValidJid(s: string): boolean {
  return parseJid(s) !== null;
}

export function isValidPartnerId(s: string): boolean {
  return PARTNER_ID_RE.test(s);
}

export function isValidAccountId(s: string): boolean {
  return ACCOUNT_ID_RE.test(s);
}

/** `<partnerId>.<accountId>@interop`; throws RangeError when either part is invalid. */
export function formatInteropJid(partnerId: string, accountId: string): string {
  if (!PARTNER_ID_RE.test(partnerId)) throw new RangeError("invalid partner id");
  if (!ACCOUNT_ID_RE.test(accountId)) throw new RangeError("invalid account id");
  return `${partnerId}.${accountId}@interop`;
}

/** `<lid>@lid.gk`; throws RangeError unless lid is 15 decimal digits. */
export function formatLidJid(lid: string): string {
  if (!/^\d{15}$/.test(lid)) throw new RangeError("invalid lid");
  return `${lid}@lid.gk`;
}
