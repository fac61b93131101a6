/** The puppets' user namespace, derived from bridge.username_template and the homeserver domain. */

const ID_PLACEHOLDER = "{{id}}";

/** Escapes a literal for use inside a regular expression (registration regexes are PCRE-like). */
export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** The template around {{id}}: "gk_{{id}}" → { prefix: "gk_", suffix: "" }. */
export function templateParts(usernameTemplate: string): { prefix: string; suffix: string } {
  const at = usernameTemplate.indexOf(ID_PLACEHOLDER);
  if (at < 0) throw new RangeError("username template has no {{id}}");
  return {
    prefix: usernameTemplate.slice(0, at),
    suffix: usernameTemplate.slice(at + ID_PLACEHOLDER.length),
  };
}

/** Regex for the registration's exclusive user namespace: "@gk_.+:example\\.org". */
export function puppetUserIdRegex(usernameTemplate: string, domain: string): string {
  const { prefix, suffix } = templateParts(usernameTemplate);
  return `@${escapeRegex(prefix)}.+${escapeRegex(suffix)}:${escapeRegex(domain)}`;
}

/** Whether a user ID lies in the puppets' namespace (anchored, as homeservers match it). */
export function isPuppetUserId(userId: string, usernameTemplate: string, domain: string): boolean {
  return new RegExp(`^${puppetUserIdRegex(usernameTemplate, domain)}$`).test(userId);
}
