import { describe, expect, it } from "vitest";
import { ContentError, MAX_PADDING, pad, unpad } from "../../../src/gatekeeper/content/index.js";
import type { ContentErrorCode } from "../../../src/gatekeeper/content/index.js";

function expectContentError(fn: () => unknown, code: ContentErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ContentError);
  expect((thrown as ContentError).code).toBe(code);
  expect((thrown as ContentError).nackCode).toBe(491);
}

describe("pad", () => {
  it.each(Array.from({ length: MAX_PADDING }, (_, i) => i + 1))(
    "appends %i bytes equal to the length",
    (n) => {
      const body = Uint8Array.of(1, 2, 3);
      const padded = pad(body, () => n);
      expect(padded).toHaveLength(3 + n);
      expect([...padded.subarray(0, 3)]).toEqual([1, 2, 3]);
      expect([...padded.subarray(3)]).toEqual(new Array<number>(n).fill(n));
      expect([...unpad(padded)]).toEqual([1, 2, 3]);
    },
  );

  it("draws every length 1..15 and nothing else by default", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 3000; i++) seen.add(pad(new Uint8Array(0)).length);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it("refuses a padding source that returns an impossible length", () => {
    expect(() => pad(new Uint8Array(1), () => 0)).toThrow(RangeError);
    expect(() => pad(new Uint8Array(1), () => 16)).toThrow(RangeError);
    expect(() => pad(new Uint8Array(1), () => 2.5)).toThrow(RangeError);
  });
});

describe("unpad", () => {
  it("keeps body bytes that happen to look like padding", () => {
    const body = Uint8Array.of(9, 2, 2);
    expect([...unpad(pad(body, () => 1))]).toEqual([9, 2, 2]);
    expect([...unpad(pad(body, () => 2))]).toEqual([9, 2, 2]);
  });

  it("accepts a plaintext that is only padding (an empty Message)", () => {
    expect(unpad(Uint8Array.of(4, 4, 4, 4))).toHaveLength(0);
  });

  it.each([
    ["an empty plaintext", new Uint8Array(0)],
    ["a last byte of 0", Uint8Array.of(1, 2, 0)],
    ["a last byte of 16", Uint8Array.of(...new Array<number>(20).fill(16))],
    ["a last byte of 255", Uint8Array.of(1, 255)],
    ["padding bytes that differ", Uint8Array.of(1, 2, 3, 3, 2, 3, 3)],
    ["a padding length beyond the plaintext", Uint8Array.of(5, 5, 5)],
  ])("refuses %s with bad-padding", (_what, bytes) => {
    expectContentError(() => unpad(bytes), "bad-padding");
  });
});
