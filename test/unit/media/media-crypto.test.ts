import { createCipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  MediaError,
  decryptMedia,
  deriveMediaKeys,
  encryptMedia,
} from "../../../src/gatekeeper/media/index.js";
import type {
  DecryptMediaOptions,
  MediaErrorCode,
  MediaType,
} from "../../../src/gatekeeper/media/index.js";

const sha256 = (b: Uint8Array): Uint8Array =>
  new Uint8Array(createHash("sha256").update(b).digest());

function flipBit(b: Uint8Array, index: number): Uint8Array {
  const copy = new Uint8Array(b);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

function expectMediaError(fn: () => unknown, code: MediaErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(MediaError);
  expect((thrown as MediaError).code).toBe(code);
}

function optionsFor(
  enc: ReturnType<typeof encryptMedia>,
  mediaType: MediaType,
): DecryptMediaOptions {
  return {
    mediaKey: enc.mediaKey,
    mediaType,
    fileSha256: enc.fileSha256,
    fileEncSha256: enc.fileEncSha256,
  };
}

describe("encryptMedia / decryptMedia round trip", () => {
  it.each<MediaType>(["image", "sticker", "video", "audio", "ptt", "document"])(
    "%s",
    (mediaType) => {
      const plaintext = randomBytes(12_345);
      const enc = encryptMedia(plaintext, mediaType);
      expect(enc.fileLength).toBe(plaintext.length);
      expect(enc.mediaKey).toHaveLength(32);
      // PKCS#7 always pads to the next whole block, then the 10-byte MAC.
      expect(enc.blob).toHaveLength((Math.floor(plaintext.length / 16) + 1) * 16 + 10);
      expect(Buffer.from(enc.fileSha256)).toEqual(createHash("sha256").update(plaintext).digest());
      expect(Buffer.from(enc.fileEncSha256)).toEqual(
        createHash("sha256").update(enc.blob).digest(),
      );
      expect(Buffer.from(decryptMedia(enc.blob, optionsFor(enc, mediaType)))).toEqual(plaintext);
    },
  );

  it("draws a fresh media key for every file", () => {
    const plaintext = randomBytes(64);
    const a = encryptMedia(plaintext, "image");
    const b = encryptMedia(plaintext, "image");
    expect(Buffer.from(a.mediaKey)).not.toEqual(Buffer.from(b.mediaKey));
    expect(Buffer.from(a.blob)).not.toEqual(Buffer.from(b.blob));
    expect(Buffer.from(a.fileSha256)).toEqual(Buffer.from(b.fileSha256));
  });

  it("keys stickers like images and voice notes like audio, but the four types apart", () => {
    const key = randomBytes(32);
    const iv = (t: MediaType) => Buffer.from(deriveMediaKeys(key, t).iv).toString("hex");
    expect(iv("sticker")).toBe(iv("image"));
    expect(iv("ptt")).toBe(iv("audio"));
    expect(new Set([iv("image"), iv("video"), iv("audio"), iv("document")]).size).toBe(4);
  });

  it("decrypts without the optional hashes", () => {
    const plaintext = randomBytes(33);
    const enc = encryptMedia(plaintext, "video");
    expect(
      Buffer.from(decryptMedia(enc.blob, { mediaKey: enc.mediaKey, mediaType: "video" })),
    ).toEqual(plaintext);
  });
});

describe("decryptMedia refuses bad blobs", () => {
  const plaintext = randomBytes(1000);
  const enc = encryptMedia(plaintext, "image");
  const macStart = enc.blob.length - 10;

  it("a flipped bit in the MAC → bad-mac", () => {
    const blob = flipBit(enc.blob, macStart + 3);
    expectMediaError(
      () => decryptMedia(blob, { ...optionsFor(enc, "image"), fileEncSha256: sha256(blob) }),
      "bad-mac",
    );
  });

  it("a flipped ciphertext bit, with the blob hash recomputed to match → bad-mac", () => {
    const blob = flipBit(enc.blob, 17);
    expectMediaError(
      () => decryptMedia(blob, { ...optionsFor(enc, "image"), fileEncSha256: sha256(blob) }),
      "bad-mac",
    );
  });

  it("a tampered blob against the original hash → enc-hash-mismatch, checked before the MAC", () => {
    expectMediaError(
      () => decryptMedia(flipBit(enc.blob, 17), optionsFor(enc, "image")),
      "enc-hash-mismatch",
    );
  });

  it("a wrong fileEncSha256 → enc-hash-mismatch", () => {
    expectMediaError(
      () =>
        decryptMedia(enc.blob, {
          ...optionsFor(enc, "image"),
          fileEncSha256: flipBit(enc.fileEncSha256, 0),
        }),
      "enc-hash-mismatch",
    );
  });

  it("a wrong media key or media type → bad-mac", () => {
    expectMediaError(
      () =>
        decryptMedia(enc.blob, {
          ...optionsFor(enc, "image"),
          mediaKey: flipBit(enc.mediaKey, 31),
        }),
      "bad-mac",
    );
    expectMediaError(() => decryptMedia(enc.blob, optionsFor(enc, "document")), "bad-mac");
  });

  it("a wrong fileSha256 → plaintext-hash-mismatch", () => {
    expectMediaError(
      () =>
        decryptMedia(enc.blob, {
          ...optionsFor(enc, "image"),
          fileSha256: flipBit(enc.fileSha256, 5),
        }),
      "plaintext-hash-mismatch",
    );
  });

  it.each([
    ["missing its last byte", enc.blob.subarray(0, enc.blob.length - 1)],
    ["cut at a block boundary plus part of a MAC", enc.blob.subarray(0, 16 + 5)],
    ["shorter than one block plus MAC", enc.blob.subarray(0, 25)],
    ["empty", new Uint8Array(0)],
  ])("a blob %s → truncated", (_what, blob) => {
    expectMediaError(
      () => decryptMedia(blob, { mediaKey: enc.mediaKey, mediaType: "image" }),
      "truncated",
    );
  });

  it("maxSize: a file one byte over the limit → too-large; exactly at the limit is fine", () => {
    expectMediaError(
      () => decryptMedia(enc.blob, { ...optionsFor(enc, "image"), maxSize: 999 }),
      "too-large",
    );
    expect(decryptMedia(enc.blob, { ...optionsFor(enc, "image"), maxSize: 1000 })).toHaveLength(
      1000,
    );
  });

  it("maxSize: a blob far over the limit is refused before hashing", () => {
    // The hash is wrong too; too-large wins because it is decided from the length alone.
    expectMediaError(
      () =>
        decryptMedia(enc.blob, {
          ...optionsFor(enc, "image"),
          fileEncSha256: new Uint8Array(32),
          maxSize: 10,
        }),
      "too-large",
    );
  });

  it("a correctly MACed blob with broken AES padding → bad-padding", () => {
    const key = randomBytes(32);
    const keys = deriveMediaKeys(key, "audio");
    const cipher = createCipheriv("aes-256-cbc", keys.cipherKey, keys.iv).setAutoPadding(false);
    const block = Buffer.alloc(32, 0x41);
    block[31] = 0x00; // a pad length of 0 is never valid PKCS#7
    const ciphertext = Buffer.concat([cipher.update(block), cipher.final()]);
    const mac = createHmac("sha256", keys.macKey)
      .update(keys.iv)
      .update(ciphertext)
      .digest()
      .subarray(0, 10);
    const blob = Buffer.concat([ciphertext, mac]);
    expectMediaError(
      () => decryptMedia(blob, { mediaKey: key, mediaType: "audio", fileEncSha256: sha256(blob) }),
      "bad-padding",
    );
  });

  it("a media key that is not 32 bytes → bad-key", () => {
    expectMediaError(
      () => decryptMedia(enc.blob, { mediaKey: randomBytes(31), mediaType: "image" }),
      "bad-key",
    );
    expectMediaError(() => encryptMedia(plaintext, "image", randomBytes(33)), "bad-key");
  });
});
