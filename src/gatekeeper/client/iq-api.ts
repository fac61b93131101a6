import {
  MAX_LOOKUP_CONTACTS,
  buildBlocklistChange,
  buildEnlistRemove,
  buildEnlistRequest,
  buildEnlistVerify,
  buildInteropSettings,
  buildLookupQuery,
  buildMediaConnRequest,
  parseBlocklist,
  parseEnlistRequestResult,
  parseEnlistedResult,
  parseLookupResult,
  parseMediaConnResult,
  StanzaError,
} from "../stanza/index.js";
import type { InteropSettings, MediaConn } from "../stanza/index.js";
import type { Connection } from "./connection.js";
import { GatekeeperError } from "./errors.js";
import type { LookupEntry } from "./types.js";

/**
 * The request/answer operations of GKI/1 (enlistment §6, directory §12.1, settings §12.2,
 * blocking §12.3, media connection §11.2), each one iq on a connection.
 */

export async function requestEnlistCode(
  conn: Connection,
): Promise<{ expiresIn: number; length: number }> {
  const result = await conn.iq({
    type: "set",
    xmlns: "enlist",
    to: "gk",
    children: buildEnlistRequest(),
  });
  const r = parse(() => parseEnlistRequestResult(result.children));
  return { expiresIn: r.expires, length: r.length };
}

export async function verifyEnlistCode(conn: Connection, code: string): Promise<string> {
  const children = parse(() => buildEnlistVerify(code), "bad-request");
  const result = await conn.iq({ type: "set", xmlns: "enlist", to: "gk", children });
  return parse(() => parseEnlistedResult(result.children));
}

export async function removeEnlistment(conn: Connection): Promise<void> {
  await conn.iq({ type: "set", xmlns: "enlist", to: "gk", children: buildEnlistRemove() });
}

/** Looks up phone numbers, 20 per iq (docs §12.1); answers in the order asked. */
export async function lookupPhones(conn: Connection, phones: string[]): Promise<LookupEntry[]> {
  const out: LookupEntry[] = [];
  for (let i = 0; i < phones.length; i += MAX_LOOKUP_CONTACTS) {
    const chunk = phones.slice(i, i + MAX_LOOKUP_CONTACTS);
    const children = parse(() => buildLookupQuery(chunk), "bad-request");
    const result = await conn.iq({ type: "get", xmlns: "usync", to: "gk", children });
    const items = parse(() => parseLookupResult(result.children));
    const byContact = new Map(items.map((item) => [item.contact, item]));
    for (const phone of chunk) {
      const item = byContact.get(phone);
      out.push({
        phone,
        ...(item?.jid === undefined ? {} : { jid: item.jid }),
        ...(item?.name === undefined ? {} : { name: item.name }),
      });
    }
  }
  return out;
}

export async function changeBlocklist(
  conn: Connection,
  action: "block" | "unblock",
  jid: string,
): Promise<void> {
  const children = parse(() => buildBlocklistChange(action, jid), "bad-request");
  await conn.iq({ type: "set", xmlns: "blocklist", to: "gk", children });
}

export async function fetchBlocklist(conn: Connection): Promise<string[]> {
  const result = await conn.iq({ type: "get", xmlns: "blocklist", to: "gk", children: [] });
  return parse(() => parseBlocklist(result.children));
}

export async function setInteropSettings(
  conn: Connection,
  settings: InteropSettings,
): Promise<void> {
  const children = parse(() => buildInteropSettings(settings), "bad-request");
  await conn.iq({ type: "set", xmlns: "interop", to: "gk", children });
}

export async function requestMediaConn(conn: Connection): Promise<MediaConn> {
  const result = await conn.iq({
    type: "set",
    xmlns: "w:m",
    to: "gk",
    children: buildMediaConnRequest(),
  });
  return parse(() => parseMediaConnResult(result.children));
}

/** Codec errors become GatekeeperErrors: bad input from us ("bad-request") or a bad answer. */
function parse<T>(fn: () => T, code: "bad-request" | "protocol-error" = "protocol-error"): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StanzaError) throw new GatekeeperError(code, err.message, { cause: err });
    throw err;
  }
}
