import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_FRAME_PAYLOAD,
  GKI_INTRO,
  NoiseError,
  decodeFirstClientMessage,
  decodeFrame,
  encodeFirstClientMessage,
  encodeFrame,
} from "../../../src/gatekeeper/noise/index.js";

function errorOf(fn: () => unknown): NoiseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NoiseError) return err;
    throw err;
  }
  throw new Error("expected a NoiseError");
}

describe("GKI/1 framing", () => {
  it("the intro is 'GK', major 1, minor 1", () => {
    expect([...GKI_INTRO]).toEqual([0x47, 0x4b, 0x01, 0x01]);
  });

  it("prefixes a 3-byte big-endian length", () => {
    const payload = Buffer.alloc(0x012345, 7);
    const frame = encodeFrame(payload);
    expect([...frame.subarray(0, 3)]).toEqual([0x01, 0x23, 0x45]);
    expect(frame.length).toBe(3 + 0x012345);
    expect(decodeFrame(frame)).toEqual(payload);
  });

  it("round-trips an empty payload", () => {
    expect([...encodeFrame(new Uint8Array(0))]).toEqual([0, 0, 0]);
    expect(decodeFrame(Buffer.from([0, 0, 0]))).toHaveLength(0);
  });

  it("the first client message is intro + frame", () => {
    const msg = encodeFirstClientMessage(Buffer.from("hello"));
    expect([...msg.subarray(0, 7)]).toEqual([0x47, 0x4b, 0x01, 0x01, 0, 0, 5]);
    expect(decodeFirstClientMessage(msg).toString()).toBe("hello");
  });

  it("accepts exactly the maximum and refuses one byte more with frame-too-large / 413", () => {
    const max = 1000;
    expect(decodeFrame(encodeFrame(Buffer.alloc(max), max), max)).toHaveLength(max);
    const encodeErr = errorOf(() => encodeFrame(Buffer.alloc(max + 1), max));
    expect(encodeErr.code).toBe("frame-too-large");
    expect(encodeErr.gkiCode).toBe(413);
    const decodeErr = errorOf(() => decodeFrame(encodeFrame(Buffer.alloc(max + 1), max + 1), max));
    expect(decodeErr.code).toBe("frame-too-large");
    expect(decodeErr.gkiCode).toBe(413);
  });

  it("defaults to a 1 MiB maximum frame payload", () => {
    expect(DEFAULT_MAX_FRAME_PAYLOAD).toBe(1_048_576);
    expect(decodeFrame(encodeFrame(Buffer.alloc(1_048_576)))).toHaveLength(1_048_576);
    expect(errorOf(() => encodeFrame(Buffer.alloc(1_048_577))).code).toBe("frame-too-large");
    const header = Buffer.from([0x10, 0x00, 0x01]); // declares 1 MiB + 1 bytes
    expect(errorOf(() => decodeFrame(header)).code).toBe("frame-too-large");
  });

  it("reports an oversize declared length even when the bytes are missing", () => {
    expect(errorOf(() => decodeFrame(Buffer.from([0xff, 0xff, 0xff]), 100)).code).toBe(
      "frame-too-large",
    );
  });

  it("refuses a length that does not match the remaining bytes", () => {
    const frame = encodeFrame(Buffer.from("abcdef"));
    expect(errorOf(() => decodeFrame(frame.subarray(0, frame.length - 1))).code).toBe("bad-frame");
    expect(errorOf(() => decodeFrame(Buffer.concat([frame, Buffer.from([0])]))).code).toBe(
      "bad-frame",
    );
    // Two frames in one WebSocket message are not allowed either.
    expect(errorOf(() => decodeFrame(Buffer.concat([frame, frame]))).code).toBe("bad-frame");
  });

  it("refuses a message shorter than the header", () => {
    expect(errorOf(() => decodeFrame(Buffer.alloc(0))).code).toBe("bad-frame");
    expect(errorOf(() => decodeFrame(Buffer.from([0, 0]))).code).toBe("bad-frame");
  });

  it("refuses a first message without the exact intro", () => {
    const frame = encodeFrame(Buffer.from("x"));
    for (const intro of [
      [0x47, 0x4b, 0x01, 0x02],
      [0x47, 0x4b, 0x02, 0x01],
      [0x58, 0x58, 0x01, 0x01],
    ]) {
      expect(
        errorOf(() => decodeFirstClientMessage(Buffer.concat([Buffer.from(intro), frame]))).code,
      ).toBe("bad-intro");
    }
    expect(errorOf(() => decodeFirstClientMessage(Buffer.from([0x47, 0x4b]))).code).toBe(
      "bad-intro",
    );
    expect(errorOf(() => decodeFirstClientMessage(frame)).code).toBe("bad-intro");
  });

  it("checks the frame after a correct intro", () => {
    const msg = encodeFirstClientMessage(Buffer.from("abc"));
    expect(errorOf(() => decodeFirstClientMessage(msg.subarray(0, msg.length - 1))).code).toBe(
      "bad-frame",
    );
  });

  it("refuses a maximum that a 3-byte length cannot express", () => {
    expect(() => encodeFrame(Buffer.alloc(1), 0x1000000)).toThrow(RangeError);
    expect(() => decodeFrame(Buffer.from([0, 0, 0]), 0)).toThrow(RangeError);
  });

  it("decodes a frame held in a view into a larger buffer", () => {
    const backing = Buffer.concat([Buffer.from("junk"), encodeFrame(Buffer.from("payload"))]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, backing.length - 4);
    expect(decodeFrame(view).toString()).toBe("payload");
  });
});
