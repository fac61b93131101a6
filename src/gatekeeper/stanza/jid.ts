/** GKI/1 addresses (docs/protocol.md §2). */

/** The gatekeeper's own JID. */
export const JID_SERVER = "gk";

const LID_RE = /^(\d{15})@lid\.gk$/;
const INTEROP_RE = /^([a-z0-9-]{1,32})\.([A-Za-z0-9_-]{1,64})@interop$/;
const PARTNER_ID_RE = /^[a-z0-9-]{1,32}$/;
const ACCOUNT_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const GROUP_RE = /^(\d{18})@g\.gk$/;

export type Jid =
  | { kind: "server"; jid: "gk" }
  | { kind: "lid"; jid: string; lid: string }
  | { kind: "interop"; jid: string; partnerId: string; accountId: string }
  | { kind: "group"; jid: string; gid: string };

/** Parses a JID string; null when it is not one of the four GKI/1 forms (§2). */
export function parseJid(s: string): Jid | null {
  if (s === JID_SERVER) return { kind: "server", jid: JID_SERVER };
  const lid = LID_RE.exec(s);
  if (lid) return { kind: "lid", jid: s, lid: lid[1] as string };
  const group = GROUP_RE.exec(s);
  if (group) return { kind: "group", jid: s, gid: group[1] as string };
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

/** Any GKI/1 address: the gatekeeper, a user or a group. */
export function isValidJid(s: string): boolean {
  return parseJid(s) !== null;
}

/** A group address `<18 digits>@g.gk` (§19.1). */
export function isGroupJid(s: string): boolean {
  return GROUP_RE.test(s);
}

/** A user's address: a native (`@lid.gk`) or partner (`@interop`) user, never the gatekeeper or a group. */
export function isUserJid(s: string): boolean {
  return LID_RE.test(s) || INTEROP_RE.test(s);
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

/** `<gid>@g.gk`; throws RangeError unless gid is 18 decimal digits. */
export function formatGroupJid(gid: string): string {
  if (!/^\d{18}$/.test(gid)) throw new RangeError("invalid group id");
  return `${gid}@g.gk`;
}
