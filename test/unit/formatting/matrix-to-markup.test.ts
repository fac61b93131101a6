import { describe, expect, it } from "vitest";
import { markupToMatrix, matrixToMarkup } from "../../../src/matrix/formatting/index.js";

const Z = "\u200B";

function fromHtml(html: string, body = "plain body"): string {
  return matrixToMarkup({ body, format: "org.matrix.custom.html", formatted_body: html });
}

/** [what, Matrix formatted_body, expected gatekeeper markup] */
const CASES: [string, string, string][] = [
  ["b", "<b>x</b>", "*x*"],
  ["strong", "<strong>x</strong>", "*x*"],
  ["i", "<i>x</i>", "_x_"],
  ["em", "<em>x</em>", "_x_"],
  ["s, del, strike", "<s>a</s> <del>b</del> <strike>c</strike>", "~a~ ~b~ ~c~"],
  ["inline code", "run <code>ls -la</code>", "run `ls -la`"],
  ["inline code with a backtick", "<code>a`b</code>", "```a`b```"],
  ["markup inside code is not protected", "<code>*x*</code>", "`*x*`"],
  ["pre", "<pre>a\n  b</pre>", "```a\n  b```"],
  [
    "pre > code from a Markdown client",
    '<pre><code class="language-ts">const a = 1;\nconst b = 2;\n</code></pre>\n',
    "```const a = 1;\nconst b = 2;```",
  ],
  ["a fence inside a code block is broken up", "<pre>x ``` y</pre>", `\`\`\`x \`\`${Z}\` y\`\`\``],
  ["blockquote", "<blockquote>q</blockquote>", "> q"],
  [
    "blockquote with paragraphs",
    "<blockquote><p>a</p><p>b</p></blockquote><p>c</p>",
    "> a\n>\n> b\n\nc",
  ],
  ["nested blockquote", "<blockquote>a<blockquote>b</blockquote></blockquote>", "> a\n> > b"],
  ["ul", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n", "- one\n- two"],
  ["ol", "<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"],
  ["ol start", '<ol start="4"><li>a</li><li>b</li></ol>', "4. a\n5. b"],
  ["loose list items", "<ul><li><p>a</p></li><li><p>b</p></li></ul>", "- a\n- b"],
  [
    "nested lists indent by two spaces",
    "<ul><li>a<ol><li>b<ul><li>c</li></ul></li></ol></li><li>d</li></ul>",
    "- a\n  1. b\n    - c\n- d",
  ],
  ["code inside a list", "<ul><li><code>npm test</code> runs it</li></ul>", "- `npm test` runs it"],
  ["list inside a quote", "<blockquote><ul><li>a</li></ul></blockquote>", "> - a"],
  ["adjacent lists stay apart", "<ul><li>a</li></ul><ul><li>b</li></ul>", "- a\n\n- b"],
  ["link with text", '<a href="https://e.org/x">the docs</a>', "the docs (https://e.org/x)"],
  [
    "link whose text is its URL",
    '<a href="https://e.org/">https://e.org/</a>, ok',
    "https://e.org/, ok",
  ],
  ["mailto link", '<a href="mailto:me@e.org">me@e.org</a>', "mailto:me@e.org"],
  ["user mention pill", '<a href="https://matrix.to/#/@alice:e.org">Alice</a>: hi', "Alice: hi"],
  ["javascript: link keeps only its text", '<a href="javascript:alert(1)">click</a>', "click"],
  ["relative link keeps only its text", '<a href="/x">x</a>', "x"],
  ["styled link text", '<b><a href="https://e.org">site</a></b>', "*site (https://e.org)*"],
  ["br", "a<br>b<br/>c", "a\nb\nc"],
  ["paragraphs", "<p>a</p>\n<p>b</p>\n", "a\n\nb"],
  ["divs", "<div>a</div><div>b</div>", "a\n\nb"],
  ["no trailing blank lines", "<p>a</p><p></p><br><br>", "a"],
  [
    "headings",
    "<h1>Title</h1><p>text</p><h3><b>Sub</b> title</h3>",
    "*Title*\n\ntext\n\n*Sub title*",
  ],
  [
    "mx-reply is dropped",
    "<mx-reply><blockquote>old <b>stuff</b></blockquote></mx-reply>new",
    "new",
  ],
  ["img alt", '<img src="mxc://s/m" alt=":party:"> yay', ":party: yay"],
  ["img without alt", '<img src="mxc://s/m">', "[image]"],
  [
    "span and font keep their text",
    '<span data-mx-spoiler="">hidden</span> <font color="red">red</font>',
    "hidden red",
  ],
  ["unknown tags keep their text", "<u>under</u><sup>2</sup> <marquee>m</marquee>", "under2 m"],
  ["script and style are dropped", "<script>alert(1)</script>hi<style>p{}</style>", "hi"],
  [
    "entities are decoded",
    "a &amp; b &lt;c&gt; &quot;d&quot; &#x1F600; &nbsp;e",
    'a & b <c> "d" 😀 \u00A0e',
  ],
  ["whitespace collapses", "a  \n  b\t c", "a b c"],
  ["markers go around the words, not the spaces", "<b> a </b>b <i>c </i>", "*a* b _c_"],
  ["styles never span lines", "<b>one<br>two</b>", "*one*\n*two*"],
  ["same style nested once", "<b>a <strong>b</strong></b>", "*a b*"],
  ["bold inside italic", "<i>a <b>b</b></i>", "_a *b*_"],
  ["CRLF in HTML text is whitespace", "a\r\nb <b>c</b>", "a b *c*"],
  ["CRLF in a code block", "<pre>a\r\nb</pre>", "```a\nb```"],
  ["emoji and non-BMP text", "<b>😀 𝒜𠀀</b> <i>é</i>", "*😀 𝒜𠀀* _é_"],
  ["a marker touching a letter gets a ZWSP", "foo<b>bar</b>baz", `foo${Z}*bar*${Z}baz`],
  [
    "a URL touching text is kept apart",
    '<a href="https://e.org">https://e.org</a>abc',
    `https://e.org${Z}abc`,
  ],
];

describe("matrixToMarkup: HTML", () => {
  it.each(CASES)("%s", (_what, html, markup) => {
    expect(fromHtml(html)).toBe(markup);
  });
});

describe("matrixToMarkup: literal text stays literal", () => {
  /** The gatekeeper reads the result as plain text: no formatting, same visible text. */
  function expectReadAsPlain(markup: string, visible: string): void {
    expect(markupToMatrix(markup).formatted_body).toBeUndefined();
    expect(markup.replaceAll(Z, "")).toBe(visible);
  }

  it.each([
    ["*not bold*"],
    ["_not italic_ and ~not struck~"],
    ["`not code`"],
    ["```not code```"],
    ["a *b* c *d* e"],
    ["*a *b *c d*"],
    ["> not a quote"],
    ["- not a list"],
    ["* not a list"],
    ["1. not a list"],
  ])("%j in an HTML paragraph", (text) => {
    expectReadAsPlain(fromHtml(`<p>${text}</p>`), text);
  });

  it("adds nothing to text that would not be misread", () => {
    const text = "2*3*4, snake_case_name, a * b, *nix, 5 > 3, x-y";
    expect(fromHtml(`<p>${text}</p>`)).toBe(text);
  });

  it("protects literal markers next to real formatting", () => {
    const markup = fromHtml("<b>bold</b> and *literal*");
    const html = markupToMatrix(markup).formatted_body;
    expect(html).toBe("<strong>bold</strong> and *" + Z + "literal" + Z + "*");
  });

  it("protects a pair split across elements", () => {
    const markup = fromHtml("a *b <i>c</i> d* e");
    expect(markupToMatrix(markup).formatted_body).toBe(`a *${Z}b <em>c</em> d${Z}* e`);
  });

  it("keeps a literal quote marker inside a quote literal", () => {
    const markup = fromHtml("<blockquote>&gt; x</blockquote>");
    expect(markupToMatrix(markup).formatted_body).toBe(`<blockquote>${Z}&gt; x</blockquote>`);
  });
});

describe("matrixToMarkup: plain body and reply fallback", () => {
  it("passes a plain body through unchanged", () => {
    const body = "*as typed* <b>not html</b>\r\n> maybe";
    expect(matrixToMarkup({ body })).toBe(body);
  });

  it("ignores formatted_body when the format is not HTML", () => {
    expect(matrixToMarkup({ body: "b", format: "org.example", formatted_body: "<b>x</b>" })).toBe(
      "b",
    );
  });

  it("strips the plain reply fallback of a reply", () => {
    const body = "> <@alice:e.org> original\n> second line\n\nmy answer\n> not fallback";
    expect(matrixToMarkup({ body }, { isReply: true })).toBe("my answer\n> not fallback");
  });

  it("strips an emote's reply fallback and CRLF fallbacks", () => {
    expect(matrixToMarkup({ body: "> * <@bob:e.org> waves\r\n\r\nhi" }, { isReply: true })).toBe(
      "hi",
    );
  });

  it("keeps the quote when the event is not a reply", () => {
    const body = "> <@alice:e.org> original\n\nmy answer";
    expect(matrixToMarkup({ body })).toBe(body);
  });

  it("keeps a body that has no well-formed fallback", () => {
    expect(matrixToMarkup({ body: "> just a quote\n\ntext" }, { isReply: true })).toBe(
      "> just a quote\n\ntext",
    );
    expect(matrixToMarkup({ body: "> <@a:e.org> only" }, { isReply: true })).toBe(
      "> <@a:e.org> only",
    );
  });

  it("drops the HTML reply fallback and keeps the answer", () => {
    const content = {
      body: "> <@alice:e.org> original\n\n*answer*",
      format: "org.matrix.custom.html",
      formatted_body:
        '<mx-reply><blockquote><a href="https://matrix.to/#/!r:e.org/$ev">In reply to</a> ' +
        '<a href="https://matrix.to/#/@alice:e.org">@alice:e.org</a><br>original</blockquote></mx-reply><b>answer</b>',
    };
    expect(matrixToMarkup(content, { isReply: true })).toBe("*answer*");
  });

  it("falls back to the body when the HTML shows nothing", () => {
    const content = {
      body: "> <@alice:e.org> original\n\nanswer",
      format: "org.matrix.custom.html",
      formatted_body: "<mx-reply><blockquote>original</blockquote></mx-reply><script>x</script>",
    };
    expect(matrixToMarkup(content, { isReply: true })).toBe("answer");
  });
});
