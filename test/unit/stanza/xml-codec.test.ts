import { describe, expect, it } from "vitest";
import {
  DEFAULT_XML_LIMITS,
  StanzaError,
  type XmlNode,
  encodeXml,
  parseXml,
  serializeXml,
} from "../../../src/gatekeeper/stanza/index.js";

/** The StanzaError thrown by fn (fails the test when fn does not throw one). */
function caught(fn: () => unknown): StanzaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StanzaError);
    return err as StanzaError;
  }
  throw new Error("expected a StanzaError");
}

const codeOf = (input: string | Uint8Array): number => caught(() => parseXml(input)).code;

function nested(depth: number): string {
  return "<a>".repeat(depth - 1) + "<a/>" + "</a>".repeat(depth - 1);
}

function depthOf(node: XmlNode): number {
  return 1 + Math.max(0, ...node.children.map(depthOf));
}

describe("parseXml: the GKI/1 XML subset", () => {
  it("reads tag, attributes, children and leaf text", () => {
    const node = parseXml(`<iq id="1" type='get' xmlns="encrypt"><count/><x k="v">hi</x></iq>`);
    expect(node).toEqual({
      tag: "iq",
      attrs: { id: "1", type: "get", xmlns: "encrypt" },
      children: [
        { tag: "count", attrs: {}, children: [] },
        { tag: "x", attrs: { k: "v" }, children: [], text: "hi" },
      ],
    });
  });

  it("accepts bytes and an optional leading XML declaration", () => {
    const bytes = new TextEncoder().encode(`<?xml version="1.0" encoding="UTF-8"?>\n<a b="c"/>`);
    expect(parseXml(bytes)).toEqual({ tag: "a", attrs: { b: "c" }, children: [] });
  });

  it("keeps namespace-prefixed tags such as stream:error", () => {
    expect(parseXml(`<stream:error code="515"/>`).tag).toBe("stream:error");
  });

  it("leaves numeric- and boolean-looking values as the exact strings", () => {
    const node = parseXml(
      `<a v="007" e="1e3" b="true" h="0x10" n="-0" s=" 42 "><t>007</t><u>1e3</u><w>true</w><z> 12 </z></a>`,
    );
    expect(node.attrs).toEqual({ v: "007", e: "1e3", b: "true", h: "0x10", n: "-0", s: " 42 " });
    expect(node.children.map((c) => c.text)).toEqual(["007", "1e3", "true", " 12 "]);
  });

  it("ignores whitespace between elements but keeps whitespace-only leaf text", () => {
    const node = parseXml(`<a>\n  <b/>\n  <c>  </c>\n</a>`);
    expect(node.text).toBeUndefined();
    expect(node.children.map((c) => c.tag)).toEqual(["b", "c"]);
    expect(node.children[1]?.text).toBe("  ");
  });

  it("keeps element names that shadow Object.prototype members, drops a __proto__ attribute", () => {
    const node = parseXml(`<toString a="1" __proto__="x" hasOwnProperty="y"><valueOf/></toString>`);
    expect(node.tag).toBe("toString");
    expect(node.children[0]?.tag).toBe("valueOf");
    expect(node.attrs).toEqual({ a: "1", hasOwnProperty: "y" });
    expect(Object.getPrototypeOf(node.attrs)).toBe(Object.prototype);
  });

  it("decodes the five predefined entities and numeric references, and nothing else", () => {
    const node = parseXml(
      `<a v="&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;">&lt;b&gt; &amp; &#x10348;</a>`,
    );
    expect(node.attrs.v).toBe(`<>&"'A😀`);
    expect(node.text).toBe("<b> & 𐍈");
    for (const bad of [
      "&foo;",
      "&nbsp;",
      "&copy;",
      "&#0;",
      "&#xD800;",
      "&#x110000;",
      "&amp",
      "& x",
    ]) {
      expect(codeOf(`<a>${bad}</a>`), bad).toBe(487);
      expect(codeOf(`<a v="${bad}"/>`), bad).toBe(487);
    }
  });

  it("normalizes literal whitespace in attribute values, keeps it when written as references", () => {
    const node = parseXml(`<a v="x\ty\nz" w="x&#9;y&#10;z&#13;"/>`);
    expect(node.attrs.v).toBe("x y z");
    expect(node.attrs.w).toBe("x\ty\nz\r");
  });
});

describe("parseXml: refused constructs (487, nothing expanded)", () => {
  it("refuses a DOCTYPE, also behind a declaration", () => {
    expect(codeOf(`<!DOCTYPE ack><ack class="x"/>`)).toBe(487);
    expect(codeOf(`<?xml version="1.0"?><!DOCTYPE ack SYSTEM "x.dtd"><ack class="x"/>`)).toBe(487);
  });

  it("refuses billion laughs before expanding anything", () => {
    const lol = [
      `<?xml version="1.0"?>`,
      `<!DOCTYPE lolz [`,
      ` <!ENTITY lol "lol">`,
      ...Array.from(
        { length: 9 },
        (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`,
      ),
      `]>`,
      `<lolz>&lol9;</lolz>`,
    ].join("\n");
    const err = caught(() => parseXml(lol));
    expect(err.code).toBe(487);
    expect(err.message).toMatch(/DOCTYPE/);
    // The same reference without a declaration is an unknown entity, not an empty string.
    expect(codeOf(`<lolz>&lol9;</lolz>`)).toBe(487);
  });

  it("refuses external entities without reading them", () => {
    const xxe = `<!DOCTYPE ack [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ack class="&xxe;"/>`;
    const err = caught(() => parseXml(xxe));
    expect(err.code).toBe(487);
    expect(err.message).not.toMatch(/root:/);
    expect(codeOf(`<!ENTITY x "y"><ack class="x"/>`)).toBe(487);
  });

  it("refuses processing instructions other than the leading declaration", () => {
    expect(codeOf(`<?xml-stylesheet href="x.xsl"?><a/>`)).toBe(487);
    expect(codeOf(`<a><?php echo 1; ?></a>`)).toBe(487);
    expect(codeOf(`<a/><?pi?>`)).toBe(487);
    expect(codeOf(` <?xml version="1.0"?><a/>`)).toBe(487);
    expect(codeOf(`<?xml version="1.0"?><?xml version="1.0"?><a/>`)).toBe(487);
  });

  it("refuses a declaration naming another encoding", () => {
    expect(codeOf(`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`)).toBe(487);
  });

  it("refuses CDATA and comments", () => {
    expect(codeOf(`<a><![CDATA[<b/>]]></a>`)).toBe(487);
    expect(codeOf(`<a><!-- hi --></a>`)).toBe(487);
    expect(codeOf(`<!-- hi --><a/>`)).toBe(487);
  });
});

describe("parseXml: malformed input (487)", () => {
  it.each([
    ["unclosed tag", "<a><b></a>"],
    ["unclosed root", "<a>"],
    ["two roots", "<a/><b/>"],
    ["two roots with content", "<a></a><b></b>"],
    ["text root", "hello"],
    ["text after root", "<a/>tail"],
    ["text before root", "lead<a/>"],
    ["text after a self-closed root", "<a/>tail"],
    ["text with '>' after a self-closed root", "<a/>tail>"],
    ["reference after the root", "<a/>&amp;"],
    ["empty", ""],
    ["whitespace only", "  \n"],
    ["mismatched close", "<a></b>"],
    ["unquoted attribute", "<a b=1/>"],
    ["attribute without value", "<a b/>"],
    ["duplicate attribute", `<a b="1" b="2"/>`],
    ["'<' in attribute", `<a b="<"/>`],
    ["bad tag name", "<1a/>"],
    ["mixed content", "<a>text<b/></a>"],
    ["mixed content after child", "<a><b/>text</a>"],
    ["control character", "<a>\u0001</a>"],
    ["reserved tag name", "<constructor/>"],
  ])("%s", (_name, xml) => {
    expect(codeOf(xml)).toBe(487);
  });

  it.each([
    ["lone continuation byte", [0x3c, 0x61, 0x3e, 0x80, 0x3c, 0x2f, 0x61, 0x3e]],
    ["overlong '/'", [0x3c, 0x61, 0xc0, 0xaf, 0x3e]],
    ["encoded surrogate", [0x3c, 0x61, 0x3e, 0xed, 0xa0, 0x80, 0x3c, 0x2f, 0x61, 0x3e]],
    ["truncated sequence", [0x3c, 0x61, 0x3e, 0xf0, 0x9f, 0x98, 0x3c, 0x2f, 0x61, 0x3e]],
    ["0xFF byte", [0x3c, 0x61, 0xff, 0x2f, 0x3e]],
  ])("invalid UTF-8: %s", (_name, bytes) => {
    const err = caught(() => parseXml(new Uint8Array(bytes)));
    expect(err.code).toBe(487);
    expect(err.message).toMatch(/UTF-8/);
  });

  it("refuses a string holding a lone surrogate", () => {
    expect(codeOf(`<a v="\uD83D"/>`)).toBe(487);
  });
});

/** docs/protocol.md §5: a limit breach is 413, and the ack's text names the limit. */
function limitOf(input: string, limits?: Parameters<typeof parseXml>[1]) {
  const err = caught(() => parseXml(input, limits));
  return { code: err.code, text: err.text };
}

describe("parseXml: limits", () => {
  it("allows depth 16 and refuses depth 17", () => {
    expect(depthOf(parseXml(nested(16)))).toBe(16);
    expect(limitOf(nested(17))).toEqual({ code: 413, text: "depth" });
    expect(limitOf(nested(1000))).toEqual({ code: 413, text: "depth" });
  });

  it("allows 32 attributes and refuses 33", () => {
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => `a${i}="${i}"`).join(" ");
    expect(Object.keys(parseXml(`<x ${attrs(32)}/>`).attrs)).toHaveLength(32);
    expect(limitOf(`<x ${attrs(33)}/>`)).toEqual({ code: 413, text: "attributes" });
    expect(limitOf(`<x><y ${attrs(33)}/></x>`)).toEqual({ code: 413, text: "attributes" });
  });

  it("allows 1024 children and refuses 1025", () => {
    const kids = (n: number) => `<list>${"<item/>".repeat(n)}</list>`;
    expect(parseXml(kids(1024)).children).toHaveLength(1024);
    expect(limitOf(kids(1025))).toEqual({ code: 413, text: "children" });
    expect(limitOf(`<iq>${kids(1025)}</iq>`)).toEqual({ code: 413, text: "children" });
  });

  it("refuses input over maxBytes with 413, counting UTF-8 bytes", () => {
    const limits = { ...DEFAULT_XML_LIMITS, maxBytes: 64 };
    const fits = `<a>${"x".repeat(57)}</a>`; // 64 bytes
    expect(parseXml(fits, limits).text).toHaveLength(57);
    expect(limitOf(`<a>${"x".repeat(58)}</a>`, limits)).toEqual({ code: 413, text: "size" });
    // 40 characters, 80 bytes.
    expect(caught(() => parseXml(`<a>${"é".repeat(33)}</a>`, limits)).code).toBe(413);
    expect(caught(() => parseXml(new TextEncoder().encode(fits + " "), limits)).code).toBe(413);
  });

  it("refuses more than 1 MiB by default with 413", () => {
    const big = new TextEncoder().encode(`<a>${"A".repeat(DEFAULT_XML_LIMITS.maxBytes)}</a>`);
    expect(caught(() => parseXml(big)).code).toBe(413);
  });

  it("applies an optional total element limit", () => {
    const limits = { ...DEFAULT_XML_LIMITS, maxElements: 3 };
    expect(parseXml(`<a><b/><c/></a>`, limits).children).toHaveLength(2);
    expect(limitOf(`<a><b/><c><d/></c></a>`, limits)).toEqual({ code: 413, text: "elements" });
    // Without the option the same document parses.
    expect(parseXml(`<a><b/><c><d/></c></a>`).children).toHaveLength(2);
  });

  it("applies custom depth, attribute and children limits", () => {
    const limits = { maxBytes: 1000, maxDepth: 2, maxAttributes: 1, maxChildren: 2 };
    expect(depthOf(parseXml(`<a><b><c/></b></a>`))).toBe(3);
    expect(limitOf(`<a><b><c/></b></a>`, limits)).toEqual({ code: 413, text: "depth" });
    expect(limitOf(`<a x="1" y="2"/>`, limits)).toEqual({ code: 413, text: "attributes" });
    expect(limitOf(`<a><b/><b/><b/></a>`, limits)).toEqual({ code: 413, text: "children" });
    expect(parseXml(`<a x="1"><b/><b/></a>`, limits).children).toHaveLength(2);
  });
});

describe("serializeXml", () => {
  it("escapes & < > \" ' in attributes and & < > in text", () => {
    const node: XmlNode = { tag: "a", attrs: { v: `<>&"'` }, children: [], text: `<>&"'` };
    expect(serializeXml(node)).toBe(`<a v="&lt;&gt;&amp;&quot;&apos;">&lt;&gt;&amp;"'</a>`);
  });

  it("round-trips special characters, whitespace and non-BMP emoji", () => {
    const values = [
      `<>&"'`,
      "👍🏽 family: 👨‍👩‍👧 clef: 𝄞",
      "tab\there\nnewline\r\nCRLF",
      "  padded  ",
      "&amp; already escaped &#65;",
      "]]> and --> and ?>",
    ];
    for (const v of values) {
      const node: XmlNode = {
        tag: "x",
        attrs: { v },
        children: [{ tag: "y", attrs: {}, children: [], text: v }],
      };
      expect(parseXml(serializeXml(node)), v).toEqual(node);
      expect(parseXml(encodeXml(node)), v).toEqual(node);
    }
  });

  it("writes childless, textless elements self-closed and round-trips nesting", () => {
    const node: XmlNode = {
      tag: "iq",
      attrs: { id: "1" },
      children: [
        { tag: "list", attrs: {}, children: [{ tag: "item", attrs: { id: "a" }, children: [] }] },
        { tag: "empty", attrs: {}, children: [], text: "" },
      ],
    };
    expect(serializeXml(node)).toBe(`<iq id="1"><list><item id="a"/></list><empty/></iq>`);
    expect(parseXml(serializeXml(node)).children[1]).toEqual({
      tag: "empty",
      attrs: {},
      children: [],
    });
  });

  it("refuses what XML cannot carry", () => {
    const leaf = (over: Partial<XmlNode>): XmlNode => ({
      tag: "a",
      attrs: {},
      children: [],
      ...over,
    });
    const cases: XmlNode[] = [
      leaf({ tag: "1bad" }),
      leaf({ tag: "a b" }),
      leaf({ attrs: { "bad name": "x" } }),
      leaf({ attrs: { v: "bell\u0007" } }),
      leaf({ text: "nul\u0000" }),
      leaf({ text: "lone \uD800 surrogate" }),
      leaf({ text: "both", children: [leaf({ tag: "b" })] }),
    ];
    for (const node of cases) {
      expect(caught(() => serializeXml(node)).code, JSON.stringify(node)).toBe(400);
    }
  });
});
