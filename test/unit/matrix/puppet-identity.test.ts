import { describe, expect, it } from "vitest";
import {
  FALLBACK_DISPLAY_NAME,
  contactIdPart,
  escapeLocalpart,
  puppetDisplayName,
  puppetLocalpart,
} from "../../../src/matrix/puppet-identity.js";

const LOCALPART = /^[a-z0-9._=-]+$/;

describe("escapeLocalpart", () => {
  it("keeps characters of the localpart grammar", () => {
    expect(escapeLocalpart("482910375561204")).toBe("482910375561204");
    expect(escapeLocalpart("matrix.a1b2-c3")).toBe("matrix.a1b2-c3");
  });

  it("maps upper case, underscore and other bytes the way the spec recommends", () => {
    expect(escapeLocalpart("Ab")).toBe("_ab");
    expect(escapeLocalpart("a_b")).toBe("a__b");
    expect(escapeLocalpart("a@b")).toBe("a=40b");
    expect(escapeLocalpart("a=b")).toBe("a=3db");
    expect(escapeLocalpart("a/b")).toBe("a=2fb");
    expect(escapeLocalpart("ü")).toBe("=c3=bc");
  });

  it("always yields the lower-case localpart grammar", () => {
    for (const s of ["Zoë & Co", "x\u0000y", "\u{1F600}", "UPPER_lower", "a b\tc"]) {
      expect(escapeLocalpart(s)).toMatch(LOCALPART);
    }
  });

  it("is injective on ids that differ only in case or escaping", () => {
    const ids = ["a", "A", "_a", "__a", "a=40", "a@", "=40", "@", "a_", "A_", "_A"];
    const out = ids.map(escapeLocalpart);
    expect(new Set(out).size).toBe(ids.length);
  });
});

describe("contactIdPart", () => {
  it("uses the local part for ids in the native domain", () => {
    expect(contactIdPart("482910375561204@lid.gk", "lid.gk")).toBe("482910375561204");
  });

  it("keeps the domain of other ids, so they cannot collide with native ones", () => {
    const native = contactIdPart("matrix.a1@lid.gk", "lid.gk");
    const partner = contactIdPart("matrix.a1@interop", "lid.gk");
    expect(native).toBe("matrix.a1");
    expect(partner).toBe("matrix.a1=40interop");
    expect(partner).not.toBe(native);
  });

  it("rejects an empty id", () => {
    expect(() => contactIdPart("", "lid.gk")).toThrow(RangeError);
  });
});

describe("puppetLocalpart", () => {
  it("fills the template's {{id}}", () => {
    expect(puppetLocalpart("gk_{{id}}", "482910375561204@lid.gk", "lid.gk")).toBe(
      "gk_482910375561204",
    );
    expect(puppetLocalpart("{{id}}.gk", "Bob@lid.gk", "lid.gk")).toBe("_bob.gk");
  });

  it("refuses a template without {{id}}", () => {
    expect(() => puppetLocalpart("gk_", "1@lid.gk")).toThrow(RangeError);
  });
});

describe("puppetDisplayName", () => {
  it("fills {{name}}", () => {
    expect(puppetDisplayName("{{name}} (Gatekeeper)", "Alice")).toBe("Alice (Gatekeeper)");
  });

  it("falls back to a neutral name when the name is unknown or blank", () => {
    expect(puppetDisplayName("{{name}} (Gatekeeper)", undefined)).toBe(FALLBACK_DISPLAY_NAME);
    expect(puppetDisplayName("{{name}} (Gatekeeper)", "   ")).toBe(FALLBACK_DISPLAY_NAME);
  });

  it("drops placeholders it cannot fill instead of showing them", () => {
    expect(puppetDisplayName("{{name}} ({{phone}})", "Alice")).toBe("Alice");
    expect(puppetDisplayName("{{name}} {{id}}", "Alice")).toBe("Alice");
  });

  it("puts the name in as it is, even if it looks like a placeholder (spaces collapsed)", () => {
    expect(puppetDisplayName("{{name}} (GK)", "{{phone}}  x")).toBe("{{phone}} x (GK)");
  });
});
