import { describe, expect, it } from "vitest";
import {
  MAX_CONTENT_BYTES,
  MAX_EVENT_BYTES,
  contentBytes,
  fits,
  longTextCaption,
  preview,
  shortenMediaContent,
  shortenedText,
} from "../../../src/matrix/event-size.js";

describe("event size", () => {
  it("counts bytes as the homeserver does: UTF-8 JSON, escapes included", () => {
    expect(contentBytes({ body: "é" })).toBe('{"body":"é"}'.length + 1);
    expect(contentBytes({ body: "\n" })).toBe('{"body":"\\n"}'.length);
    expect(contentBytes({ body: "\u0001" })).toBe('{"body":"\\u0001"}'.length);
    expect(MAX_CONTENT_BYTES).toBeLessThanOrEqual(MAX_EVENT_BYTES - 4096);
  });

  it("knows before sending that 100,000 newlines or 65,536 characters do not fit", () => {
    expect(fits({ msgtype: "m.text", body: "\n".repeat(100_000) })).toBe(false);
    expect(fits({ msgtype: "m.text", body: "x".repeat(65_536) })).toBe(false);
    expect(fits({ msgtype: "m.text", body: "x".repeat(50_000) })).toBe(true);
  });

  it("previews at most 30 lines and 2,000 characters, never half a character", () => {
    expect(preview("a\n".repeat(100)).split("\n")).toHaveLength(30);
    expect(preview("a\n".repeat(100)).endsWith("…")).toBe(true);
    const emoji = "😀".repeat(3_000);
    const short = preview(emoji);
    expect([...short]).toHaveLength(2_000);
    expect(Buffer.from(short, "utf8").toString("utf8")).toBe(short);
    expect(preview("short")).toBe("short");
  });

  it("captions a long text with its beginning and where the rest is", () => {
    const caption = longTextCaption(`hello ${"y".repeat(99_994)}`);
    expect(caption.startsWith("hello yyy")).toBe(true);
    expect(caption).toContain("too long to show here: 100,000 characters");
    expect(caption).toContain("message.txt");
    expect(fits({ body: caption })).toBe(true);
  });

  it("shortens a caption and a file name, and says how much was left out", () => {
    const content = {
      msgtype: "m.image",
      body: `c${"a".repeat(70_000)}`,
      format: "org.matrix.custom.html",
      formatted_body: "<b>big</b>",
      filename: `${"n".repeat(500)}.png`,
      url: "mxc://x/y",
    };
    const out = shortenMediaContent(content);
    expect(fits(out)).toBe(true);
    expect(out.formatted_body).toBeUndefined();
    expect([...String(out.filename)].length).toBeLessThanOrEqual(120);
    expect(String(out.body)).toContain("The caption was shortened: 68,002 more characters");
    expect(out.url).toBe("mxc://x/y");
    // Without a caption the body is the file name, shortened the same way.
    const named = shortenMediaContent({ msgtype: "m.file", body: "f".repeat(1000) });
    expect([...String(named.body)].length).toBe(120);
  });

  it("shortens an edit with a line that says so", () => {
    const text = shortenedText("z".repeat(80_000), "edited message");
    expect(text).toContain("The edited message is too long to show here: 80,000 characters");
    expect(fits({ body: text, "m.new_content": { body: text } })).toBe(true);
  });
});
