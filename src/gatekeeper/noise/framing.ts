/**
 * GKI/1 framing. The client's first WebSocket message starts with the 4 intro
 * bytes; every WebSocket binary message then carries exactly one frame:
 * a 3-byte big-endian length and exactly that many payload bytes.
 */
import { NoiseError } from "./noise-error.js";

/** "GK", major 1, minor 1. Also the Noise prologue, so a changed intro breaks the handshake. */
export const GKI_INTRO: Readonly<Buffer> = Buffer.from([0x47, 0x4b, 0x01, 0x01]);
export const FRAME_HEADER_LENGTH = 3;
/** Default cap on a frame's payload (the sealed bytes, GCM tag included). */
export const DEFAULT_MAX_FRAME_PAYLOAD = 1_048_576;
/** What a 3-byte length can express. */
export const FRAME_LENGTH_LIMIT = 0xff_ff_ff;

export function checkMaxFramePayload(maxFramePayload: number): number {
  if (
    !Number.isInteger(maxFramePayload) ||
    maxFramePayload < 1 ||
    maxFramePayload > FRAME_LENGTH_LIMIT
  ) {
    throw new RangeError(`maxFramePayload must be an integer in [1, ${FRAME_LENGTH_LIMIT}]`);
  }
  return maxFramePayload;
}

function tooLarge(length: number, maxFramePayload: number): NoiseError {
  return new NoiseError(
    "frame-too-large",
    `frame payload of ${length} bytes exceeds the maximum of ${maxFramePayload}`,
  );
}

/** One frame: 3-byte big-endian length, then the payload. */
export function encodeFrame(
  payload: Uint8Array,
  maxFramePayload = DEFAULT_MAX_FRAME_PAYLOAD,
): Buffer {
  if (payload.length > checkMaxFramePayload(maxFramePayload))
    throw tooLarge(payload.length, maxFramePayload);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length);
  frame.writeUIntBE(payload.length, 0, FRAME_HEADER_LENGTH);
  frame.set(payload, FRAME_HEADER_LENGTH);
  return frame;
}

/** The client's first WebSocket message: intro bytes, then one frame. */
export function encodeFirstClientMessage(
  payload: Uint8Array,
  maxFramePayload = DEFAULT_MAX_FRAME_PAYLOAD,
): Buffer {
  return Buffer.concat([GKI_INTRO, encodeFrame(payload, maxFramePayload)]);
}

/**
 * The payload of one WebSocket message holding exactly one frame.
 * Throws NoiseError "frame-too-large" (GKI 413) or "bad-frame".
 */
export function decodeFrame(
  message: Uint8Array,
  maxFramePayload = DEFAULT_MAX_FRAME_PAYLOAD,
): Buffer {
  checkMaxFramePayload(maxFramePayload);
  if (message.length < FRAME_HEADER_LENGTH) {
    throw new NoiseError(
      "bad-frame",
      `message of ${message.length} bytes is shorter than the frame header`,
    );
  }
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const length = buf.readUIntBE(0, FRAME_HEADER_LENGTH);
  // Checked before the length match so an oversize frame reports 413 whatever arrived.
  if (length > maxFramePayload) throw tooLarge(length, maxFramePayload);
  const remaining = buf.length - FRAME_HEADER_LENGTH;
  if (length !== remaining) {
    throw new NoiseError(
      "bad-frame",
      `frame length ${length} does not match the ${remaining} bytes that follow`,
    );
  }
  return buf.subarray(FRAME_HEADER_LENGTH);
}

/** Checks and strips the intro of the client's first message, then decodes its frame. */
export function decodeFirstClientMessage(
  message: Uint8Array,
  maxFramePayload = DEFAULT_MAX_FRAME_PAYLOAD,
): Buffer {
  if (
    message.length < GKI_INTRO.length ||
    !GKI_INTRO.equals(message.subarray(0, GKI_INTRO.length))
  ) {
    throw new NoiseError(
      "bad-intro",
      "first message does not start with the GKI/1 intro bytes 47 4B 01 01",
    );
  }
  return decodeFrame(message.subarray(GKI_INTRO.length), maxFramePayload);
}
