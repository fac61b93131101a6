import { describe, expect, it } from "vitest";
import { markupToMatrix } from "../../../src/matrix/formatting/index.js";

const A = (url: string): string => `<a href="${url}">${url}</a>`;

/** [what, gatekeeper markup, expected formatted_body, or null for plain text only] */
const CASES: [string, string, string | null][] = [
  ["plain text", "hello world", null],
  ["plain multi-line text", "line one\nline two", null],
  ["bold", "*bold*", "<strong>bold</strong>"],
  ["italic", "_italic_", "<em>italic</em>"],
  ["strikethrough", "~gone~", "<del>gone</del>"],
  ["inline code", "run `ls -la` now", "run <code>ls -la</code> now"],
  ["code block", "```const a = 1;```", "<pre><code>const a = 1;\n</code></pre>"],
  ["multi-line code block", "```a\n  b```", "<pre><code>a\n  b\n</code></pre>"],
  ["fence newlines belong to the fences", "```\nx\n```", "<pre><code>x\n</code></pre>"],
  ["triple backticks inside a line are inline code", "use ```x``` here", "use <code>x</code> here"],
  ["nothing is interpreted inside code", "`*not bold* <b>`", "<code>*not bold* &lt;b&gt;</code>"],
  [
    "nothing is interpreted in a code block",
    "```> *x*\n- y```",
    "<pre><code>&gt; *x*\n- y\n</code></pre>",
  ],
  ["quote", "> quoted", "<blockquote>quoted</blockquote>"],
  ["multi-line quote", "> one\n> two", "<blockquote>one<br>two</blockquote>"],
  ["empty quoted line", "> one\n>\n> two", "<blockquote>one<br><br>two</blockquote>"],
  ["nested quote", "> > deep", "<blockquote><blockquote>deep</blockquote></blockquote>"],
  ["text around a quote", "before\n> q\nafter", "before<blockquote>q</blockquote>after"],
  ["bullet list", "- a\n- b", "<ul><li>a</li><li>b</li></ul>"],
  ["star bullets", "* a\n* b", "<ul><li>a</li><li>b</li></ul>"],
  ["numbered list", "1. a\n2. b", "<ol><li>a</li><li>b</li></ol>"],
  ["numbered list start", "7. a\n8. b", '<ol start="7"><li>a</li><li>b</li></ol>'],
  ["nested list", "- a\n  - b\n- c", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>"],
  ["list item continuation", "- a\n  more", "<ul><li>a<br>more</li></ul>"],
  ["bullet then numbers are two lists", "- a\n1. b", "<ul><li>a</li></ul><ol><li>b</li></ol>"],
  ["code inside a list", "- `x` y", "<ul><li><code>x</code> y</li></ul>"],
  [
    "code block inside a list",
    "- ```a\n  b```",
    "<ul><li><pre><code>a\nb\n</code></pre></li></ul>",
  ],
  ["list inside a quote", "> - a", "<blockquote><ul><li>a</li></ul></blockquote>"],
  ["bold inside italic", "_a *b* c_", "<em>a <strong>b</strong> c</em>"],
  ["italic inside bold", "*a _b_*", "<strong>a <em>b</em></strong>"],
  ["three styles", "~_*x*_~", "<del><em><strong>x</strong></em></del>"],
  ["bold inside a quote", "> *x*", "<blockquote><strong>x</strong></blockquote>"],
  ["2*3*4 is not bold", "2*3*4", null],
  ["snake_case_name is not italic", "snake_case_name", null],
  ["no whitespace right inside markers", "a * not bold * and _ no _", null],
  ["a closing marker before a letter does not close", "*a*b", null],
  ["the nearest valid closing marker wins", "*a*b c*", "<strong>a*b c</strong>"],
  ["punctuation around markers is fine", "(*a*), _b_!", "(<strong>a</strong>), <em>b</em>!"],
  ["markers do not span lines", "*a\nb*", null],
  ["a lone star inside bold stays", "*5 * 3*", "<strong>5 * 3</strong>"],
  ["ZWSP inside a marker disables it", "*\u200Bnot bold*", null],
  ["empty markers are text", "** __ ~~", null],
  ["emoji inside bold", "*😀 héllo*", "<strong>😀 héllo</strong>"],
  ["emoji next to markers", "😀*x*😀", "😀<strong>x</strong>😀"],
  ["non-BMP letter is a word character", "𝒜*x*", null],
  ["non-BMP text in italic", "_𝒜𠀀_", "<em>𝒜𠀀</em>"],
  ["URL", "see https://example.com/a_b_c now", `see ${A("https://example.com/a_b_c")} now`],
  ["URL trailing punctuation", "(https://e.org/x).", `(${A("https://e.org/x")}).`],
  ["URL with balanced parentheses", "https://w.org/A_(b)", A("https://w.org/A_(b)")],
  ["mailto", "mailto:me@example.com", A("mailto:me@example.com")],
  ["http", "http://example.com", A("http://example.com")],
  ["URL inside bold", "*https://e.org*", `<strong>${A("https://e.org")}</strong>`],
  ["URL query is escaped in href", "https://e.org/?a=1&b=2", A("https://e.org/?a=1&amp;b=2")],
  ["not a URL scheme", "ftp://e.org javascript:alert(1)", null],
  [
    "HTML special characters are escaped",
    'a < b & "c" > *d*',
    "a &lt; b &amp; &quot;c&quot; &gt; <strong>d</strong>",
  ],
  ["blank line between paragraphs", "a *b*\n\nc", "a <strong>b</strong><br><br>c"],
  ["blank line before a block", "a\n\n> q", "a<br><br><blockquote>q</blockquote>"],
  ["blank line after a block", "> q\n\nb", "<blockquote>q</blockquote><br>b"],
  ["CRLF line endings", "*a*\r\n> b\r\nc", "<strong>a</strong><blockquote>b</blockquote>c"],
];

describe("markupToMatrix", () => {
  it.each(CASES)("%s", (_what, markup, html) => {
    const result = markupToMatrix(markup);
    expect(result.body).toBe(markup);
    if (html === null) {
      expect(result).toEqual({ body: markup });
    } else {
      expect(result.format).toBe("org.matrix.custom.html");
      expect(result.formatted_body).toBe(html);
    }
  });

  it("escapes HTML in the input instead of emitting it", () => {
    const result = markupToMatrix("*<script>alert(1)</script>*");
    expect(result.formatted_body).toBe("<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>");
  });

  it("returns HTML-looking text without formatting as plain text only", () => {
    expect(markupToMatrix("<script>alert(1)</script>")).toEqual({
      body: "<script>alert(1)</script>",
    });
  });

  it("cannot be made to emit an attribute or a javascript: link", () => {
    const result = markupToMatrix(
      '*x* https://e.org/"onmouseover="alert(1) <img src=x onerror=alert(1)> javascript:alert(1)',
    );
    expect(result.formatted_body).toBe(
      `<strong>x</strong> ${A("https://e.org/")}&quot;onmouseover=&quot;alert(1) &lt;img src=x onerror=alert(1)&gt; javascript:alert(1)`,
    );
  });

  it("handles a large input full of unmatched markers", () => {
    const inner = "a _b ~c `d *".repeat(5_000) + "e";
    expect(markupToMatrix(`*${inner}*`).formatted_body).toBe(`<strong>${inner}</strong>`);
  });
});
