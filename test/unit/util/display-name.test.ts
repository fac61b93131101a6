import { describe, expect, it } from "vitest";
import {
  MAX_NAME_LENGTH,
  cleanDisplayName,
  nameKey,
  sameName,
} from "../../../src/util/display-name.js";
import { wellFormed } from "../../../src/util/unicode.js";

const codePoints = (s: string): number => [...s].length;
const GK = { networkNames: ["Gatekeeper"] };

describe("cleanDisplayName", () => {
  it("keeps an ordinary name as it is, emoji, other scripts and joiners included", () => {
    for (const name of ["Bob", "Zoë Müller", "李小龍", "محمد", "👩‍👩‍👧 family", "नमस्ते", "می‌خواهم"]) {
      expect(cleanDisplayName(name)).toBe(name.normalize("NFC"));
    }
    // ZWJ (emoji sequence) and ZWNJ (Persian) survive.
    expect(cleanDisplayName("👩‍💻")).toContain("\u200D");
    expect(cleanDisplayName("می‌خواهم")).toContain("\u200C");
  });

  it("gives undefined for no name, a blank one, or one of invisible characters only", () => {
    expect(cleanDisplayName(undefined)).toBeUndefined();
    expect(cleanDisplayName(null)).toBeUndefined();
    expect(cleanDisplayName("")).toBeUndefined();
    expect(cleanDisplayName(" \n\t ")).toBeUndefined();
    expect(cleanDisplayName("\u200B\u2066\u202E\uFEFF\u3164\u2800")).toBeUndefined();
    expect(cleanDisplayName("(Gatekeeper)", GK)).toBeUndefined();
  });

  it("removes controls, bidi controls and invisible format characters", () => {
    expect(cleanDisplayName("Bo\u0000b\u0007\u007F\u0085")).toBe("Bob");
    // A right-to-left override would make "Bob" + reversed text read as something else.
    expect(cleanDisplayName("\u202EboB\u202C")).toBe("boB");
    for (const c of [
      "\u061C",
      "\u200E",
      "\u200F",
      "\u202A",
      "\u202B",
      "\u202D",
      "\u2066",
      "\u2067",
      "\u2068",
      "\u2069",
    ]) {
      expect(cleanDisplayName(`A${c}lice`)).toBe("Alice");
    }
    expect(cleanDisplayName("Al\u200Bi\u00ADce\u2060")).toBe("Alice");
  });

  it("makes one line: newlines, tabs and separators become single spaces", () => {
    expect(cleanDisplayName("Bob\nSmith")).toBe("Bob Smith");
    expect(cleanDisplayName("Bob\r\n\r\nthe\tbuilder")).toBe("Bob the builder");
    expect(cleanDisplayName("Bob\u2028Smith\u2029x")).toBe("Bob Smith x");
    expect(cleanDisplayName("  Bob \u00A0\u3000 Smith  ")).toBe("Bob Smith");
  });

  it("composes to NFC", () => {
    expect(cleanDisplayName("Zoe\u0308")).toBe("Zo\u00EB");
    // An invisible character between letter and accent does not keep them apart.
    expect(cleanDisplayName("Zoe\u200B\u0308")).toBe("Zo\u00EB");
  });

  it("caps stacked combining marks", () => {
    const zalgo = "Z" + "\u0300".repeat(200) + "ed";
    const clean = cleanDisplayName(zalgo)!;
    expect(codePoints(clean)).toBeLessThanOrEqual(12);
    expect(clean.endsWith("ed")).toBe(true);
  });

  it("removes a trailing network tag, in any case, repeated", () => {
    expect(cleanDisplayName("Bob (Gatekeeper)", GK)).toBe("Bob");
    expect(cleanDisplayName("Bob (Gatekeeper) (GATEKEEPER)  [gatekeeper]", GK)).toBe("Bob");
    expect(cleanDisplayName("Bob（Ｇａｔｅｋｅｅｐｅｒ）", GK)).toBe("Bob");
    expect(cleanDisplayName("Bob (Gate\u200Bkeeper)", GK)).toBe("Bob");
    // Other tags, and the network's name elsewhere, stay.
    expect(cleanDisplayName("Bob (work)", GK)).toBe("Bob (work)");
    expect(cleanDisplayName("Gatekeeper fan", GK)).toBe("Gatekeeper fan");
    expect(cleanDisplayName("Bob (Gatekeeper) Smith", GK)).toBe("Bob (Gatekeeper) Smith");
    // Without network names, nothing is removed.
    expect(cleanDisplayName("Bob (Gatekeeper)")).toBe("Bob (Gatekeeper)");
  });

  it("clamps a long name to 64 code points with an ellipsis", () => {
    const clean = cleanDisplayName("x".repeat(10_000))!;
    expect(codePoints(clean)).toBe(MAX_NAME_LENGTH);
    expect(clean).toBe("x".repeat(MAX_NAME_LENGTH - 1) + "…");
    expect(cleanDisplayName("y".repeat(MAX_NAME_LENGTH))).toBe("y".repeat(MAX_NAME_LENGTH));
    expect(cleanDisplayName("abcdef", { maxLength: 4 })).toBe("abc…");
  });

  it("never splits a surrogate pair or an emoji when cutting", () => {
    const clean = cleanDisplayName("😀".repeat(100))!;
    expect(clean).toBe("😀".repeat(MAX_NAME_LENGTH - 1) + "…");
    expect(wellFormed(clean)).toBe(clean);
    // A flag is two code points: the cut falls before it rather than inside.
    const flags = cleanDisplayName("a" + "🇩🇪".repeat(40))!;
    expect(flags).toBe("a" + "🇩🇪".repeat(31) + "…");
    // A family emoji (ZWJ sequence) is not left half.
    const family = "👨‍👩‍👧‍👦"; // 7 code points
    const cut = cleanDisplayName("x".repeat(60) + family)!;
    expect(cut).toBe("x".repeat(60) + "…");
  });

  it("keeps subdivision flags (tag sequences) but drops stray tag characters", () => {
    const england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
    expect(cleanDisplayName(`Bob ${england}`)).toBe(`Bob ${england}`);
    expect(cleanDisplayName("Bo\u{E0062}b")).toBe("Bob");
  });

  it("handles a hostile 10,000-character name quickly and the same way twice", () => {
    const hostile =
      "\u202EBob\n".repeat(1000) + "\u2066x\u2069".repeat(2000) + "\uD800" + " (Gatekeeper)";
    const started = performance.now();
    const clean = cleanDisplayName(hostile, GK)!;
    expect(performance.now() - started).toBeLessThan(200);
    expect(codePoints(clean)).toBeLessThanOrEqual(MAX_NAME_LENGTH);
    expect(clean).not.toMatch(/[\n\u202E\u2066\u2069]/);
    expect(clean.startsWith("Bob Bob Bob")).toBe(true);
    expect(cleanDisplayName(clean, GK)).toBe(clean);
  });

  it("makes lone surrogates well-formed", () => {
    expect(cleanDisplayName("Bob\uD800")).toBe("Bob\uFFFD");
  });
});

describe("nameKey / sameName", () => {
  it("takes names that would be confused for the same", () => {
    expect(sameName("Bob", "bob")).toBe(true);
    expect(sameName("Bob", "B o b")).toBe(true);
    expect(sameName("Bob", "ＢＯＢ")).toBe(true);
    expect(sameName("Bob", "Böb")).toBe(true);
    expect(sameName("Bob", "Bob.")).toBe(true);
    expect(sameName("Bob Smith", "bobsmith")).toBe(true);
    // Look-alike letters of other scripts: Cyrillic В and о, Greek Α.
    expect(sameName("Bob", "\u0412\u043eb")).toBe(true);
    expect(sameName("Alice", "\u0391lice")).toBe(true);
  });

  it("tells different names apart", () => {
    expect(sameName("Bob", "Rob")).toBe(false);
    expect(sameName("Bob", "Bobby")).toBe(false);
    expect(sameName("🙂", "🙃")).toBe(false);
  });

  it("does not reduce a name of punctuation alone to nothing", () => {
    expect(nameKey("...")).toBe("...");
    expect(sameName("...", "!!!")).toBe(false);
  });
});
