/**
 * Mention pills in the formatting: gatekeeper markup with mention spans → Matrix pills (body
 * with the names, formatted_body with matrix.to links), and Matrix pills → markup with the
 * spans of their text, kept right through literal protection.
 */
import { describe, expect, it } from "vitest";
import {
  markupToMatrix,
  matrixToMarkup,
  matrixToMarkupWithMentions,
} from "../../../src/matrix/formatting/index.js";
import type { MentionSpan } from "../../../src/matrix/formatting/index.js";

const CAROL = "@gk_482910375561204:example.org";
const BEA = "@bea:example.org";
const CAROL_TOKEN = "@482910375561204";

/** The span of `token`'s `nth` occurrence in `text`. */
function spanOf(text: string, token: string, nth = 0): { start: number; end: number } {
  let at = -1;
  for (let k = 0; k <= nth; k++) at = text.indexOf(token, at + 1);
  if (at === -1) throw new Error(`${token} is not in ${text}`);
  return { start: at, end: at + token.length };
}

describe("markup with mentions → Matrix", () => {
  it("makes each mention a pill with the name, and the body says the name", () => {
    const text = `hi ${CAROL_TOKEN} and @bea.1, see you`;
    const mentions: MentionSpan[] = [
      { ...spanOf(text, CAROL_TOKEN), mxid: CAROL, name: "Carol" },
      { ...spanOf(text, "@bea.1"), mxid: BEA, name: "Bea" },
    ];
    expect(markupToMatrix(text, mentions)).toEqual({
      body: "hi @Carol and @Bea, see you",
      format: "org.matrix.custom.html",
      formatted_body:
        `hi <a href="https://matrix.to/#/${CAROL}">Carol</a> and ` +
        `<a href="https://matrix.to/#/${BEA}">Bea</a>, see you`,
    });
  });

  it("keeps the text of a mention without a name, inside styles and quotes too", () => {
    const text = `> *${CAROL_TOKEN}* look\nand ${CAROL_TOKEN}`;
    const mentions: MentionSpan[] = [
      { ...spanOf(text, CAROL_TOKEN, 0), mxid: CAROL },
      { ...spanOf(text, CAROL_TOKEN, 1), mxid: CAROL },
    ];
    const pill = `<a href="https://matrix.to/#/${CAROL}">${CAROL_TOKEN}</a>`;
    expect(markupToMatrix(text, mentions)).toEqual({
      body: text,
      format: "org.matrix.custom.html",
      formatted_body: `<blockquote><strong>${pill}</strong> look</blockquote>and ${pill}`,
    });
  });

  it("leaves a mention inside code as code, and its body text as it was", () => {
    const text = `\`${CAROL_TOKEN}\` is code`;
    const mention = { ...spanOf(text, CAROL_TOKEN), mxid: CAROL, name: "Carol" };
    expect(markupToMatrix(text, [mention])).toEqual({
      body: text,
      format: "org.matrix.custom.html",
      formatted_body: `<code>${CAROL_TOKEN}</code> is code`,
    });
  });

  it("escapes the name, finds spans after CRLF, and ignores spans out of the text", () => {
    const text = `a\r\nb ${CAROL_TOKEN}`;
    const mentions: MentionSpan[] = [
      { ...spanOf(text, CAROL_TOKEN), mxid: CAROL, name: "<Carol & co>" },
      { start: 40, end: 50, mxid: BEA, name: "Bea" },
    ];
    const out = markupToMatrix(text, mentions);
    expect(out.formatted_body).toBe(
      `a<br>b <a href="https://matrix.to/#/${CAROL}">&lt;Carol &amp; co&gt;</a>`,
    );
    expect(out.body).toBe("a\nb @<Carol & co>");
  });

  it("without mentions, the same text as before", () => {
    expect(markupToMatrix(`hi ${CAROL_TOKEN}`)).toEqual({ body: `hi ${CAROL_TOKEN}` });
  });
});

describe("Matrix pills → markup with mentions", () => {
  const html = (formatted: string) => ({
    body: "fallback",
    format: "org.matrix.custom.html",
    formatted_body: formatted,
  });

  it("gives each pill's text and the user it names", () => {
    const out = matrixToMarkupWithMentions(
      html(
        `<a href="https://matrix.to/#/${CAROL}">Carol</a>: ask ` +
          `<a href="https://matrix.to/#/%40bea%3Aexample.org">Bea</a>`,
      ),
    );
    expect(out.text).toBe("Carol: ask Bea");
    expect(out.mentions).toEqual([
      { start: 0, end: 5, mxid: CAROL },
      { start: 11, end: 14, mxid: BEA },
    ]);
    // The plain conversion is the same text.
    expect(matrixToMarkup(html(`<a href="https://matrix.to/#/${CAROL}">Carol</a>`))).toBe("Carol");
  });

  it("keeps the spans on the pills when literal protection inserts zero-width spaces", () => {
    const out = matrixToMarkupWithMentions(
      html(`*not bold* <b>bold</b> <a href="https://matrix.to/#/${CAROL}">*Carol*</a> end`),
    );
    expect(out.mentions).toHaveLength(1);
    const [m] = out.mentions;
    expect(out.text.slice(m!.start, m!.end).replace(/\u200B/g, "")).toBe("*Carol*");
    expect(out.text.slice(m!.end)).toBe(" end");
  });

  it("names a pill without text by its user, and takes no room or event links as pills", () => {
    const out = matrixToMarkupWithMentions(
      html(
        `<a href="https://matrix.to/#/${BEA}"></a> and ` +
          `<a href="https://matrix.to/#/!room:example.org">the room</a>`,
      ),
    );
    expect(out.text).toBe(`${BEA} and the room (https://matrix.to/#/!room:example.org)`);
    expect(out.mentions).toEqual([{ start: 0, end: BEA.length, mxid: BEA }]);
  });

  it("a plain body has no pills", () => {
    expect(matrixToMarkupWithMentions({ body: `hi ${BEA}` })).toEqual({
      text: `hi ${BEA}`,
      mentions: [],
    });
  });
});
