/**
 * Puppet user ids and display names from the configured templates. The contact id is opaque
 * to Matrix; it is mapped into the localpart grammar with the spec's recommended escaping
 * ("Mapping from other character sets"), which is injective, so two contacts never share a
 * puppet.
 */
import { cleanDisplayName } from "../util/display-name.js";
import { excerpt } from "../util/unicode.js";

const ID_PLACEHOLDER = "{{id}}";
const NAME_PLACEHOLDER = "{{name}}";
/** Used when the contact's name is unknown: neutral, never a phone number. */
export const FALLBACK_DISPLAY_NAME = "Gatekeeper user";

/**
 * Escapes a string into `[a-z0-9._=-]`: upper case becomes `_` + lower case, `_` becomes
 * `__`, every other byte outside `[a-z0-9.-]` becomes `=` + two lower-case hex digits.
 * ("/" is escaped too although the grammar allows it: matrix-appservice-bridge escapes it.)
 */
export function escapeLocalpart(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[a-z0-9.-]/.test(c)) out += c;
    else if (/[A-Z]/.test(c)) out += "_" + c.toLowerCase();
    else if (c === "_") out += "__";
    else out += "=" + byte.toString(16).padStart(2, "0");
  }
  return out;
}

/**
 * The `{{id}}` part for a contact id. Ids in `nativeDomain` (for GKI/1: "lid.gk") are
 * represented by their local part alone, which keeps puppet ids short; any other id is
 * escaped whole, and its escaped "@" ("=40") keeps it apart from the local-part form.
 */
export function contactIdPart(contactId: string, nativeDomain?: string): string {
  if (contactId === "") throw new RangeError("empty contact id");
  const at = contactId.indexOf("@");
  if (nativeDomain !== undefined && at > 0 && contactId.slice(at + 1) === nativeDomain) {
    return escapeLocalpart(contactId.slice(0, at));
  }
  return escapeLocalpart(contactId);
}

export function puppetLocalpart(
  usernameTemplate: string,
  contactId: string,
  nativeDomain?: string,
): string {
  if (!usernameTemplate.includes(ID_PLACEHOLDER)) {
    throw new RangeError("username template has no {{id}}");
  }
  return usernameTemplate.replace(ID_PLACEHOLDER, contactIdPart(contactId, nativeDomain));
}

/**
 * Longest puppet display name, in code points: well below Synapse's 256 (M_TOO_LARGE), whatever
 * the template adds around the name.
 */
export const MAX_DISPLAY_NAME_LENGTH = 128;

/**
 * The puppet's display name: the template with `{{name}}` filled in. The name is cleaned
 * (src/util/display-name.ts: one line, no invisible or reordering characters, at most 64
 * characters), and a trailing tag the template adds itself ("(Gatekeeper)") is removed from it
 * first, so it never doubles and a contact cannot fake it. Without a name, the neutral fallback
 * stands alone (a template such as "{{name}} (Gatekeeper)" around it would only repeat the
 * network's name). Placeholders the Matrix side does not know (`{{phone}}`, `{{id}}`) are
 * removed rather than shown raw.
 */
export function puppetDisplayName(displaynameTemplate: string, name: string | undefined): string {
  // Clean the template's own text only, never the name put into it.
  const parts = displaynameTemplate.split(NAME_PLACEHOLDER).map((part) =>
    part
      .replace(/\{\{[a-z]+\}\}/g, "")
      .replace(/\(\s*\)/g, "")
      .replace(/\s+/g, " "),
  );
  const clean = cleanDisplayName(name, { networkNames: templateTags(parts) });
  if (clean === undefined) return FALLBACK_DISPLAY_NAME;
  const rendered = parts.join(clean).trim();
  return excerpt(rendered === "" ? clean : rendered, MAX_DISPLAY_NAME_LENGTH);
}

/** The bracketed tags the template puts around the name: "(Gatekeeper)" gives "Gatekeeper". */
function templateTags(parts: string[]): string[] {
  const tags: string[] = [];
  for (const part of parts) {
    for (const m of part.matchAll(/[([]\s*([^()[\]]+?)\s*[)\]]/g)) tags.push(m[1]!);
  }
  return tags;
}
