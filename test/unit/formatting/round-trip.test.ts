import { describe, expect, it } from "vitest";
import { markupToMatrix, matrixToMarkup } from "../../../src/matrix/formatting/index.js";

/** Well-formed gatekeeper markup that must survive gatekeeper -> Matrix -> gatekeeper. */
const ROUND_TRIP: string[] = [
  "hello",
  "*bold*",
  "_italic_",
  "~strike~",
  "`code`",
  "```block```",
  "```line1\n  line2```",
  "> quote",
  "> line1\n> line2",
  "> one\n>\n> two",
  "> > nested quote",
  "> - quoted list",
  "> *quoted bold*\n\nreply",
  "- a\n- b",
  "1. a\n2. b",
  "3. a\n4. b",
  "- a\n  - nested\n    1. deeper\n- b",
  "- a\n  continued",
  "- a\n\n  second paragraph",
  "- `code` in list",
  "- ```a\n  b```",
  "- a\n\n- b",
  "- item\n\ntext",
  "text\n> quote\nmore",
  "x\n\n> q",
  "> q\n\n- x",
  "see:\n```x```\nok",
  "_*bold italic*_",
  "*bold _and italic_ text*",
  "~*both*~",
  "*a* *b*",
  "what? *yes*!",
  "(*a*), _b_.",
  "*5 * 3*",
  "*bold* and *nix",
  "2*3*4 and snake_case_name",
  "2*3*4 and *bold*",
  "snake_case_name and _italic_",
  "see https://example.com/a_b_c now",
  "docs (https://example.com/x?a=1&b=2)",
  "mailto:user@example.com",
  "*https://e.org*",
  "héllo *wörld* 😀 𝒜𠀀",
  "*😀*",
  'a < b & c > d *x* "q"',
  "para 1\n\npara 2 *b*",
  "line1\nline2 *b*",
  "*line one*\n*line two*",
];

describe("round trip markup -> Matrix -> markup", () => {
  it.each(ROUND_TRIP)("%j", (markup) => {
    expect(matrixToMarkup(markupToMatrix(markup))).toBe(markup);
  });

  it("normalises CRLF to LF and keeps everything else", () => {
    expect(matrixToMarkup(markupToMatrix("*a*\r\n> b\r\n- c"))).toBe("*a*\n> b\n- c");
  });
});

/** Deterministic PRNG (mulberry32) so generated cases are the same on every run. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "a",
  "bc",
  "x1",
  "*",
  "_",
  "~",
  "`",
  "```",
  " ",
  " ",
  "\n",
  "\n",
  "> ",
  "- ",
  "1. ",
  "  ",
  "https://e.com/a_b",
  "(",
  ")",
  "<",
  "&",
  '"',
  "😀",
  "é",
  ".",
  "\u200B",
  "\r\n",
];

describe("generated markup", () => {
  it("converting the converted text again changes nothing (idempotence)", () => {
    const random = prng(20_240_601);
    for (let n = 0; n < 3_000; n++) {
      let markup = "";
      const length = 1 + Math.floor(random() * 16);
      for (let k = 0; k < length; k++) markup += PIECES[Math.floor(random() * PIECES.length)];
      const once = matrixToMarkup(markupToMatrix(markup));
      expect({ markup, twice: matrixToMarkup(markupToMatrix(once)) }).toEqual({
        markup,
        twice: once,
      });
    }
  });
});
