/** puppetDisplayName with names a hostile contact chooses (issue 8: M_TOO_LARGE, doubled tags). */
import { describe, expect, it } from "vitest";
import {
  FALLBACK_DISPLAY_NAME,
  MAX_DISPLAY_NAME_LENGTH,
  puppetDisplayName,
} from "../../../src/matrix/puppet-identity.js";

const TEMPLATE = "{{name}} (Gatekeeper)";
/** Synapse's limit on display names (MAX_DISPLAYNAME_LEN), in characters. */
const SYNAPSE_MAX = 256;

describe("puppetDisplayName with hostile names", () => {
  it("keeps a 10,000-character name far below Synapse's limit", () => {
    const name = puppetDisplayName(TEMPLATE, "A".repeat(10_000));
    expect([...name].length).toBeLessThan(SYNAPSE_MAX);
    expect(name).toBe(`${"A".repeat(63)}… (Gatekeeper)`);
  });

  it("stays below the limit whatever the template", () => {
    const template = `{{name}} ${"x".repeat(500)}`;
    const name = puppetDisplayName(template, "Bob");
    expect([...name].length).toBeLessThanOrEqual(MAX_DISPLAY_NAME_LENGTH);
    expect(name.startsWith("Bob x")).toBe(true);
  });

  it("does not double the template's tag, and a contact cannot fake it", () => {
    expect(puppetDisplayName(TEMPLATE, "Bob (Gatekeeper)")).toBe("Bob (Gatekeeper)");
    expect(puppetDisplayName(TEMPLATE, "Bob (gatekeeper) (GATEKEEPER)")).toBe("Bob (Gatekeeper)");
    expect(puppetDisplayName("{{name}} [GK]", "Bob [GK]")).toBe("Bob [GK]");
    expect(puppetDisplayName(TEMPLATE, "(Gatekeeper)")).toBe(FALLBACK_DISPLAY_NAME);
  });

  it("shows one line without bidi or invisible characters", () => {
    expect(puppetDisplayName(TEMPLATE, "\u202Eevil\nname\u2069\u200B")).toBe(
      "evil name (Gatekeeper)",
    );
    expect(puppetDisplayName(TEMPLATE, "\u200B\u2800")).toBe(FALLBACK_DISPLAY_NAME);
  });
});
