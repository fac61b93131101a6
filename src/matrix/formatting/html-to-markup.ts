/**
 * Matrix HTML -> gatekeeper markup: parses with htmlparser2 (entities decoded, malformed
 * input repaired the way htmlparser2 does) and walks the tree into a MarkupWriter.
 * Elements nested deeper than MAX_NESTING_DEPTH are flattened to their text, and every
 * helper that may meet such a subtree is iterative, so no input can exhaust the stack.
 */
import { ElementType, parseDocument } from "htmlparser2";
import { MAX_NESTING_DEPTH } from "./markup-ast.js";
import type { InlineStyle } from "./markup-ast.js";
import { MarkupWriter } from "./markup-writer.js";
import type { WrittenMarkup } from "./markup-writer.js";
import { allowedHref, isUserMention, mentionedUser } from "./url.js";

type HtmlNode = ReturnType<typeof parseDocument>["children"][number];
type HtmlElement = Extract<HtmlNode, { attribs: unknown }>;

/** Dropped with everything inside: the legacy reply fallback and non-content elements. */
const DROPPED = new Set(["mx-reply", "script", "style", "head", "title", "template"]);
const STYLE_OF: Readonly<Record<string, InlineStyle>> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  s: "strike",
  del: "strike",
  strike: "strike",
};
const PARAGRAPHS = new Set([
  "p",
  "div",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "table",
  "section",
  "article",
  "details",
  "summary",
  "figure",
]);
const HEADINGS = new Set(["h1", "h2", "h3", "h4", "h5", "h6"]);

function isElement(node: HtmlNode): node is HtmlElement {
  return (
    node.type === ElementType.Tag ||
    node.type === ElementType.Script ||
    node.type === ElementType.Style
  );
}

function imageText(element: HtmlElement): string {
  const alt = element.attribs.alt?.trim();
  return alt !== undefined && alt !== "" ? alt : "[image]";
}

/** The text of a subtree without recursion; <br> becomes `lineBreak`. */
function textOf(root: HtmlNode, lineBreak: string): string {
  let text = "";
  const stack: HtmlNode[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.type === ElementType.Text) {
      text += node.data;
    } else if (isElement(node) && !DROPPED.has(node.name)) {
      if (node.name === "br") text += lineBreak;
      else if (node.name === "img") text += imageText(node);
      for (let k = node.children.length - 1; k >= 0; k--) stack.push(node.children[k] as HtmlNode);
    }
  }
  return text;
}

interface ListContext {
  ordered: boolean;
  next: number;
}

class HtmlWalker {
  private readonly lists: ListContext[] = [];
  /** The block that ended last, to keep two adjacent lists (or quotes) from reading as one. */
  private ended: { kind: string; depth: number; serial: number } | undefined;

  constructor(private readonly writer: MarkupWriter) {}

  walkChildren(nodes: readonly HtmlNode[], depth: number): void {
    for (const node of nodes) this.walk(node, depth);
  }

  private walk(node: HtmlNode, depth: number): void {
    if (node.type === ElementType.Text) {
      this.writer.text(node.data);
      return;
    }
    if (!isElement(node) || DROPPED.has(node.name)) return; // comments, directives
    if (depth >= MAX_NESTING_DEPTH) {
      this.writer.text(textOf(node, " "));
      return;
    }
    this.element(node, depth + 1);
  }

  private element(el: HtmlElement, depth: number): void {
    const w = this.writer;
    const name = el.name;
    const style = STYLE_OF[name];
    if (style !== undefined) {
      const entered = w.enterStyle(style);
      this.walkChildren(el.children, depth);
      if (entered) w.exitStyle();
      return;
    }
    switch (name) {
      case "br":
        w.lineBreak();
        return;
      case "img":
        w.text(imageText(el));
        return;
      case "code":
        w.inlineCode(textOf(el, " "));
        return;
      case "pre":
        w.codeBlock(textOf(el, "\n"));
        return;
      case "a":
        this.link(el, depth);
        return;
      case "blockquote":
        this.quote(el, depth);
        return;
      case "ul":
      case "ol":
        this.list(el, depth, name === "ol");
        return;
      case "li":
        this.listItem(el, depth);
        return;
      case "tr":
        w.requestBreak(1);
        this.walkChildren(el.children, depth);
        w.requestBreak(1);
        return;
      case "td":
      case "th":
        w.space();
        this.walkChildren(el.children, depth);
        w.space();
        return;
    }
    if (PARAGRAPHS.has(name)) {
      w.requestBreak(2);
      const bold = HEADINGS.has(name) && w.enterStyle("bold");
      this.walkChildren(el.children, depth);
      if (bold) w.exitStyle();
      w.requestBreak(2);
      return;
    }
    this.walkChildren(el.children, depth); // span, font, u, sup, unknown tags: their text
  }

  /**
   * A block that directly follows one of the same kind would merge with it in markup
   * ("- a" + "- b" is one list), so it is set apart by a blank line.
   */
  private beginBlock(kind: string): number {
    const w = this.writer;
    const ended = this.ended;
    const merges =
      ended?.kind === kind && ended.depth === w.containerDepth && ended.serial === w.contentSerial;
    w.requestBreak(merges ? 2 : 1);
    return w.contentSerial;
  }

  private endBlock(kind: string, startSerial: number): void {
    const w = this.writer;
    w.requestBreak(1);
    // An empty block shows nothing and separates nothing.
    if (w.contentSerial !== startSerial) {
      this.ended = { kind, depth: w.containerDepth, serial: w.contentSerial };
    }
  }

  private container(el: HtmlElement, depth: number, first: string, rest: string): void {
    this.writer.requestBreak(1);
    this.writer.pushContainer(first, rest);
    this.walkChildren(el.children, depth);
    this.writer.popContainer();
    this.writer.requestBreak(1);
  }

  private quote(el: HtmlElement, depth: number): void {
    const serial = this.beginBlock("blockquote");
    this.container(el, depth, "> ", "> ");
    this.endBlock("blockquote", serial);
  }

  private list(el: HtmlElement, depth: number, ordered: boolean): void {
    const start = /^\d{1,9}$/.test(el.attribs.start ?? "") ? Number(el.attribs.start) : 1;
    const kind = ordered ? "ol" : "ul";
    const serial = this.beginBlock(kind);
    this.lists.push({ ordered, next: start });
    this.walkChildren(el.children, depth);
    this.lists.pop();
    this.endBlock(kind, serial);
  }

  private listItem(el: HtmlElement, depth: number): void {
    const list = this.lists[this.lists.length - 1];
    const marker = list?.ordered === true ? `${list.next++}. ` : "- ";
    this.container(el, depth, marker, "  ");
  }

  private link(el: HtmlElement, depth: number): void {
    const w = this.writer;
    const url = allowedHref(el.attribs.href);
    const text = textOf(el, " ")
      .replace(/[ \t\n\f\r]+/g, " ")
      .trim();
    const user = url === undefined ? undefined : mentionedUser(url);
    if (user !== undefined) {
      // A pill: its text, marked as naming the user (the caller may write it their way).
      w.mention(text === "" ? user : text, user);
      return;
    }
    if (url === undefined || isUserMention(url)) {
      this.walkChildren(el.children, depth);
      return;
    }
    if (text === "" || text === url || `mailto:${text}` === url) {
      w.url(url);
      return;
    }
    this.walkChildren(el.children, depth);
    w.urlSuffix(url);
  }
}

/** Convert Matrix HTML to markup, with every character tagged literal or syntax. */
export function htmlToMarkup(html: string): WrittenMarkup {
  const document = parseDocument(html);
  const writer = new MarkupWriter();
  new HtmlWalker(writer).walkChildren(document.children, 0);
  return writer.finish();
}
