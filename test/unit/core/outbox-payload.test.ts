import { describe, expect, it } from "vitest";
import type { BridgeContent } from "../../../src/core/content.js";
import { decodeOutboxPayload, encodeOutboxPayload } from "../../../src/core/outbox-payload.js";
import { backoffDelay } from "../../../src/core/backoff.js";

describe("outbox payload", () => {
  it.each<BridgeContent>([
    { kind: "text", text: "hello *world*" },
    { kind: "text", text: "waves", style: "emote" },
    { kind: "text", text: "fyi", style: "notice", replyTo: "3EB0AAAAAAAAAAAAAAAA" },
    { kind: "unsupported", description: "an image" },
  ])("survives a round trip: %j", (content) => {
    expect(decodeOutboxPayload(encodeOutboxPayload(content))).toEqual(content);
  });

  it("refuses a payload it cannot read instead of sending garbage", () => {
    const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    expect(() =>
      decodeOutboxPayload(bytes({ v: 2, content: { kind: "text", text: "x" } })),
    ).toThrow();
    expect(() => decodeOutboxPayload(bytes({ v: 1, content: { kind: "text" } }))).toThrow();
    expect(() => decodeOutboxPayload(new TextEncoder().encode("{"))).toThrow();
  });
});

describe("backoffDelay", () => {
  it("doubles from 1 s and stops at 60 s", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  it("follows the given bounds", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, { initialMs: 10, maxMs: 35 }))).toEqual([
      10, 20, 35, 35,
    ]);
  });
});
