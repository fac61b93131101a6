/**
 * Builders and parsers for the children of GKI/1 iqs (docs/protocol.md §6, §7, §10–§12), so no
 * caller hand-builds these XML shapes. Parsers throw StanzaError 400 (tag "iq") on a bad shape and
 * ignore unknown elements and attributes. The key iqs (§7) live in key-payloads.ts.
 */
import { isValidPartnerId } from "./jid.js";
import {
  IQ_CTX as CTX,
  el,
  elementsNamed,
  findChild,
  invalid,
  jidText,
  numText,
  optAttr,
  reqAttr,
  reqEnum,
  reqJid,
  reqNum,
  requireChild,
  textEl,
} from "./stanza-fields.js";
import type { XmlNode } from "./xml-codec.js";

export * from "./key-payloads.js";

export interface LookupResultItem {
  contact: string;
  /** Absent = `type="out"` (unknown, or did not opt in to the caller's partner). */
  jid?: string;
  name?: string;
}
export type EnlistAction =
  { action: "request" } | { action: "verify"; code: string } | { action: "remove" };
export interface EnlistRequestResult {
  /** Seconds until the code expires. */
  expires: number;
  /** Number of digits in the code. */
  length: number;
}
export interface MediaConn {
  auth: string;
  /** Seconds the token stays valid. */
  ttl: number;
  host: string;
}
export type BlocklistAction = "block" | "unblock";
export interface InteropSettings {
  enabled: boolean;
  partners: string[] | "*";
  inbox: "separate" | "combined";
}
export const MAX_LOOKUP_CONTACTS = 20;

const E164_RE = /^\+\d{8,15}$/;
const ENLIST_CODE_RE = /^\d{6}$/;

// ---------------------------------------------------------------- directory (§12.1)

export function buildLookupQuery(phones: string[]): XmlNode[] {
  if (phones.length === 0 || phones.length > MAX_LOOKUP_CONTACTS)
    throw invalid(CTX, "1..20 contacts per lookup");
  for (const p of phones)
    if (!E164_RE.test(p)) throw invalid(CTX, "contact is not an E.164 number");
  return [
    el(
      "query",
      {},
      phones.map((p) => textEl("contact", p)),
    ),
  ];
}

export function parseLookupQuery(children: XmlNode[]): string[] {
  const contacts = elementsNamed(requireChild(children, "query").children, "contact");
  // The upper bound is the gatekeeper's to enforce, with its own error (§12.1: too-many-contacts).
  if (contacts.length === 0) throw invalid(CTX, "a lookup needs a contact");
  return contacts.map((c) => {
    const phone = c.text ?? "";
    if (!E164_RE.test(phone)) throw invalid(CTX, "contact is not an E.164 number");
    return phone;
  });
}

export function buildLookupResult(items: LookupResultItem[]): XmlNode[] {
  const users = items.map((item) =>
    item.jid === undefined
      ? el("user", { contact: item.contact, type: "out" })
      : el("user", { contact: item.contact, jid: jidText(item.jid, "jid", CTX), name: item.name }),
  );
  return [el("list", {}, users)];
}

export function parseLookupResult(children: XmlNode[]): LookupResultItem[] {
  return elementsNamed(requireChild(children, "list").children, "user").map((user) => {
    const contact = reqAttr(user, "contact", CTX);
    if (user.attrs.type === "out" || user.attrs.jid === undefined) return { contact };
    const item: LookupResultItem = { contact, jid: reqJid(user, "jid", CTX) };
    const name = optAttr(user, "name");
    if (name !== undefined) item.name = name;
    return item;
  });
}

// ---------------------------------------------------------------- enlistment (§6)

export function buildEnlistRequest(): XmlNode[] {
  return [el("request")];
}

export function buildEnlistVerify(code: string): XmlNode[] {
  if (!ENLIST_CODE_RE.test(code)) throw invalid(CTX, "enlistment code is not 6 digits");
  return [el("verify", { code })];
}

export function buildEnlistRemove(): XmlNode[] {
  return [el("remove")];
}

/** The action of `<iq type="set" xmlns="enlist">`: the first of request / verify / remove. */
export function parseEnlistAction(children: XmlNode[]): EnlistAction {
  for (const c of children) {
    if (c.tag === "request") return { action: "request" };
    if (c.tag === "remove") return { action: "remove" };
    if (c.tag === "verify") {
      const code = reqAttr(c, "code", CTX);
      if (!ENLIST_CODE_RE.test(code)) throw invalid(CTX, "enlistment code is not 6 digits");
      return { action: "verify", code };
    }
  }
  throw invalid(CTX, "missing <request/>, <verify/> or <remove/>");
}

export function buildEnlistRequestResult(r: EnlistRequestResult): XmlNode[] {
  return [
    el("request", {
      expires: numText(r.expires, "expires", CTX),
      length: numText(r.length, "length", CTX),
    }),
  ];
}

export function parseEnlistRequestResult(children: XmlNode[]): EnlistRequestResult {
  const request = requireChild(children, "request");
  return { expires: reqNum(request, "expires", CTX), length: reqNum(request, "length", CTX) };
}

export function buildEnlistedResult(jid: string): XmlNode[] {
  return [el("enlisted", { jid: jidText(jid, "jid", CTX) })];
}

/** The JID of `<enlisted jid/>`. */
export function parseEnlistedResult(children: XmlNode[]): string {
  return reqJid(requireChild(children, "enlisted"), "jid", CTX);
}

// ---------------------------------------------------------------- media connection (§11.2)

export function buildMediaConnRequest(): XmlNode[] {
  return [el("media_conn")];
}

export function isMediaConnRequest(children: XmlNode[]): boolean {
  return findChild(children, "media_conn") !== undefined;
}

export function buildMediaConnResult(m: MediaConn): XmlNode[] {
  if (m.auth.length === 0 || m.host.length === 0)
    throw invalid(CTX, "empty media_conn auth or host");
  return [el("media_conn", { auth: m.auth, ttl: numText(m.ttl, "ttl", CTX), host: m.host })];
}

export function parseMediaConnResult(children: XmlNode[]): MediaConn {
  const mc = requireChild(children, "media_conn");
  const auth = reqAttr(mc, "auth", CTX);
  const host = reqAttr(mc, "host", CTX);
  if (auth.length === 0 || host.length === 0) throw invalid(CTX, "empty media_conn auth or host");
  return { auth, ttl: reqNum(mc, "ttl", CTX), host };
}

// ---------------------------------------------------------------- blocking (§12.3)

export function buildBlocklistChange(action: BlocklistAction, jid: string): XmlNode[] {
  return [el("item", { action, jid: jidText(jid, "jid", CTX) })];
}

export function parseBlocklistChange(children: XmlNode[]): {
  action: BlocklistAction;
  jid: string;
} {
  const item = requireChild(children, "item");
  return {
    action: reqEnum(item, "action", ["block", "unblock"] as const, CTX),
    jid: reqJid(item, "jid", CTX),
  };
}

/** The result of `<iq type="get" xmlns="blocklist"/>`: `<list><item jid/>…</list>`. */
export function buildBlocklist(jids: string[]): XmlNode[] {
  return [
    el(
      "list",
      {},
      jids.map((jid) => el("item", { jid: jidText(jid, "jid", CTX) })),
    ),
  ];
}

export function parseBlocklist(children: XmlNode[]): string[] {
  const list = findChild(children, "list");
  // An empty blocklist MAY be sent as a bare result.
  if (list === undefined) return [];
  return elementsNamed(list.children, "item").map((item) => reqJid(item, "jid", CTX));
}

// ---------------------------------------------------------------- interop settings (§12.2)

export function buildInteropSettings(s: InteropSettings): XmlNode[] {
  if (s.partners !== "*") {
    for (const p of s.partners) if (!isValidPartnerId(p)) throw invalid(CTX, "invalid partner id");
  }
  return [
    el("settings", {
      enabled: s.enabled ? "true" : "false",
      partners: s.partners === "*" ? "*" : s.partners.join(","),
      inbox: s.inbox,
    }),
  ];
}

export function parseInteropSettings(children: XmlNode[]): InteropSettings {
  const node = requireChild(children, "settings");
  const enabled = reqEnum(node, "enabled", ["true", "false"] as const, CTX) === "true";
  const rawPartners = reqAttr(node, "partners", CTX);
  let partners: string[] | "*";
  if (rawPartners === "*") {
    partners = "*";
  } else {
    partners = rawPartners === "" ? [] : rawPartners.split(",");
    if (!partners.every(isValidPartnerId)) throw invalid(CTX, "invalid partner id");
  }
  return {
    enabled,
    partners,
    inbox: reqEnum(node, "inbox", ["separate", "combined"] as const, CTX),
  };
}

// ---------------------------------------------------------------- keepalive (§10)

export function buildPing(): XmlNode[] {
  return [el("ping")];
}

export function isPing(children: XmlNode[]): boolean {
  return findChild(children, "ping") !== undefined;
}
