import { parseDocument } from "htmlparser2";
import { describe, expect, it } from "vitest";
import { markupToMatrix, matrixToMarkup } from "../../../src/matrix/formatting/index.js";

function fromHtml(html: string, body = "plain body"): string {
  return matrixToMarkup({ body, format: "org.matrix.custom.html", formatted_body: html });
}

const ALLOWED_TAGS = new Set([
  "strong",
  "em",
  "del",
  "code",
  "pre",
  "blockquote",
  "ul",
  "ol",
  "li",
  "a",
  "br",
]);

/** Every element and attribute in the HTML, as "tag" and "tag[attr=value]". */
function elementsOf(html: string): { tags: string[]; attributes: string[] } {
  const tags: string[] = [];
  const attributes: string[] = [];
  const stack = [...parseDocument(html).children];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (!("attribs" in node)) continue;
    tags.push(node.name);
    for (const [name, value] of Object.entries(node.attribs))
      attributes.push(`${node.name}[${name}=${value}]`);
    stack.push(...node.children);
  }
  return { tags, attributes };
}

describe("markupToMatrix never lets HTML through", () => {
  it.each([
    ["<script>alert(1)</script>"],
    ["*<img src=x onerror=alert(1)>*"],
    ['_<a href="javascript:alert(1)">x</a>_'],
    ["`</code><script>x</script>`"],
    ["```</pre><iframe src=//evil>```"],
    ["> <b onmouseover=alert(1)>hi</b> *x*"],
    ['- https://e.org/"><script>alert(1)</script>'],
    ["*&lt;script&gt;* &amp;"],
  ])("%j", (markup) => {
    const html = markupToMatrix(markup).formatted_body ?? "";
    const { tags, attributes } = elementsOf(html);
    expect(tags.filter((tag) => !ALLOWED_TAGS.has(tag))).toEqual([]);
    for (const attribute of attributes)
      expect(attribute).toMatch(/^a\[href=(https?:\/\/|mailto:)|^ol\[start=\d+\]$/);
  });

  it("escapes entities so they show as typed", () => {
    expect(markupToMatrix("*&lt;b&gt;*").formatted_body).toBe("<strong>&amp;lt;b&amp;gt;</strong>");
  });

  it("emits only allowed tags and attributes for generated hostile input", () => {
    const pieces = [
      "*",
      "_",
      "~",
      "`",
      "```",
      "> ",
      "- ",
      "1. ",
      "\n",
      " ",
      "<",
      ">",
      "&",
      '"',
      "'",
      "<script>",
      "</b>",
      "javascript:",
      "https://e.org/",
      "onerror=",
      "x",
    ];
    let seed = 7;
    for (let n = 0; n < 2_000; n++) {
      let markup = "";
      for (let k = 0; k < 12; k++) {
        seed = (Math.imul(seed, 48_271) + 11) % 2_147_483_647;
        markup += pieces[Math.abs(seed) % pieces.length];
      }
      const { tags, attributes } = elementsOf(markupToMatrix(markup).formatted_body ?? "");
      expect(tags.filter((tag) => !ALLOWED_TAGS.has(tag))).toEqual([]);
      for (const attribute of attributes)
        expect(attribute).toMatch(/^a\[href=https:\/\/e\.org\/|^ol\[start=\d+\]$/);
    }
  });
});

describe("matrixToMarkup is total", () => {
  it.each([
    ["unclosed tags", "<b><i>unclosed", "*_unclosed_*"],
    ["stray closing tags", "</b>a</i></ul>b", "ab"],
    ["misnested tags", "<b>a<i>b</b>c</i>", "*a\u200B_b_*\u200Bc"],
    ["a list item outside a list", "<li>a</li><li>b</li>", "- a\n- b"],
    ["broken attribute quoting", '<a href="https://e.org>x</a> y', ""],
    ["a comment and a doctype", "<!DOCTYPE html><!-- hidden -->shown", "shown"],
    ["CDATA and processing instructions", "<![CDATA[x]]><?php echo 1; ?>y", "y"],
    ["a lone angle bracket", "a < b > c", "a < b > c"],
    ["an unterminated entity", "&amp &lt &#xZZ; &bogus;", "& < &#xZZ; &bogus;"],
    ["unclosed mx-reply", "<mx-reply><blockquote>old", ""],
    ["empty HTML", "", ""],
  ])("%s", (_what, html, expected) => {
    // An empty conversion falls back to the plain body.
    expect(fromHtml(html)).toBe(expected === "" ? "plain body" : expected);
  });

  it("flattens nesting deeper than 32 elements to text", () => {
    const depth = 40;
    const html = "<blockquote>".repeat(depth) + "<b>deep</b>" + "</blockquote>".repeat(depth);
    expect(fromHtml(html)).toBe("> ".repeat(32) + "deep");
  });

  it("survives tens of thousands of nested elements", () => {
    expect(fromHtml("<b>".repeat(20_000) + "x")).toBe("*x*");
    // 32 levels are 16 list items, each starting on the same line as its parent.
    expect(fromHtml("<ul><li>".repeat(8_000) + "x")).toBe("- ".repeat(16) + "x");
    expect(fromHtml("<div>".repeat(5_000) + "x" + "</div>".repeat(5_000))).toBe("x");
  });

  it("falls back to the body for HTML longer than a Matrix event can be", () => {
    expect(fromHtml("<b>x</b>".repeat(10_000), "the body")).toBe("the body");
  });

  it("never throws on generated tag soup", () => {
    const pieces = [
      "<b>",
      "</b>",
      "<i>",
      "<ul>",
      "<li>",
      "</li>",
      "<ol start=x>",
      "<pre>",
      "</pre>",
      "<code>",
      "<blockquote>",
      "</blockquote>",
      "<br>",
      "<p>",
      "</p>",
      "<a href=https://e.org>",
      "</a>",
      "<img>",
      "<mx-reply>",
      "*",
      "_",
      "`",
      "```",
      "> ",
      "- ",
      "1. ",
      "\n",
      " ",
      "x",
      "&amp;",
      "&",
      "<",
      "<!--",
      "\u200B",
    ];
    let seed = 99;
    for (let n = 0; n < 2_000; n++) {
      let html = "";
      for (let k = 0; k < 16; k++) {
        seed = (Math.imul(seed, 48_271) + 7) % 2_147_483_647;
        html += pieces[Math.abs(seed) % pieces.length];
      }
      expect(typeof fromHtml(html)).toBe("string");
    }
  });

  it("tolerates content whose fields are not strings", () => {
    const content = JSON.parse(
      '{"body": 5, "format": "org.matrix.custom.html", "formatted_body": null}',
    ) as {
      body: string;
    };
    expect(matrixToMarkup(content)).toBe("");
  });
});
