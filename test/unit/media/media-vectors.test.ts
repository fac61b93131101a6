import { createCipheriv, createHash, createHmac, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import {
  createDecryptStream,
  createEncryptStream,
  decryptMedia,
  deriveMediaKeys,
  encryptMedia,
} from "../../../src/gatekeeper/media/index.js";
import type { MediaType } from "../../../src/gatekeeper/media/index.js";

interface Vector {
  name: string;
  mediaType: MediaType;
  mediaKey: string;
  plaintext: string;
  iv: string;
  cipherKey: string;
  macKey: string;
  refKey: string;
  blob: string;
  fileSha256: string;
  fileEncSha256: string;
  fileLength: number;
}

const file = new URL("../../vectors/media-vectors.json", import.meta.url);
const vectors = (JSON.parse(readFileSync(file, "utf8")) as { vectors: Vector[] }).vectors;
const bytes = (hex: string): Buffer => Buffer.from(hex, "hex");
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// Written out from the scheme's description with plain node:crypto calls, independently of
// src/gatekeeper/media, so that the vectors file is not checked against itself.
const INFO: Record<string, string> = {
  image: "WhatsApp Image Keys",
  sticker: "WhatsApp Image Keys",
  video: "WhatsApp Video Keys",
  audio: "WhatsApp Audio Keys",
  ptt: "WhatsApp Audio Keys",
  document: "WhatsApp Document Keys",
};

function reference(v: Vector) {
  const info = INFO[v.mediaType];
  if (info === undefined) throw new Error(`vector with unknown media type ${v.mediaType}`);
  const okm = Buffer.from(hkdfSync("sha256", bytes(v.mediaKey), Buffer.alloc(32), info, 112));
  const iv = okm.subarray(0, 16);
  const cipherKey = okm.subarray(16, 48);
  const macKey = okm.subarray(48, 80);
  const cipher = createCipheriv("aes-256-cbc", cipherKey, iv);
  const ciphertext = Buffer.concat([cipher.update(bytes(v.plaintext)), cipher.final()]);
  const mac = createHmac("sha256", macKey).update(iv).update(ciphertext).digest().subarray(0, 10);
  const blob = Buffer.concat([ciphertext, mac]);
  return {
    iv: hex(iv),
    cipherKey: hex(cipherKey),
    macKey: hex(macKey),
    refKey: hex(okm.subarray(80, 112)),
    blob: hex(blob),
    fileSha256: createHash("sha256").update(bytes(v.plaintext)).digest("hex"),
    fileEncSha256: createHash("sha256").update(blob).digest("hex"),
    fileLength: v.plaintext.length / 2,
  };
}

describe("media test vectors (test/vectors/media-vectors.json)", () => {
  it("cover the sizes and types the spec promises", () => {
    const lengths = vectors.map((v) => v.plaintext.length / 2);
    expect(lengths).toEqual(expect.arrayContaining([0, 1, 16, 100]));
    expect(new Set(vectors.map((v) => v.mediaType))).toEqual(
      new Set(["image", "video", "audio", "document", "sticker"]),
    );
  });

  describe.each(vectors.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    it("match an independent computation with plain node:crypto", () => {
      const expected = reference(v);
      expect({
        iv: v.iv,
        cipherKey: v.cipherKey,
        macKey: v.macKey,
        refKey: v.refKey,
        blob: v.blob,
        fileSha256: v.fileSha256,
        fileEncSha256: v.fileEncSha256,
        fileLength: v.fileLength,
      }).toEqual(expected);
    });

    it("derives the same keys", () => {
      const keys = deriveMediaKeys(bytes(v.mediaKey), v.mediaType);
      expect([hex(keys.iv), hex(keys.cipherKey), hex(keys.macKey), hex(keys.refKey)]).toEqual([
        v.iv,
        v.cipherKey,
        v.macKey,
        v.refKey,
      ]);
    });

    it("encrypts to the same blob and hashes", () => {
      const out = encryptMedia(bytes(v.plaintext), v.mediaType, bytes(v.mediaKey));
      expect(hex(out.blob)).toBe(v.blob);
      expect(hex(out.fileSha256)).toBe(v.fileSha256);
      expect(hex(out.fileEncSha256)).toBe(v.fileEncSha256);
      expect(out.fileLength).toBe(v.fileLength);
      expect(hex(out.mediaKey)).toBe(v.mediaKey);
    });

    it("decrypts the blob back to the plaintext", () => {
      const plaintext = decryptMedia(bytes(v.blob), {
        mediaKey: bytes(v.mediaKey),
        mediaType: v.mediaType,
        fileSha256: bytes(v.fileSha256),
        fileEncSha256: bytes(v.fileEncSha256),
      });
      expect(hex(plaintext)).toBe(v.plaintext);
    });

    it("gives the same results through the streams", async () => {
      const enc = createEncryptStream(v.mediaType, bytes(v.mediaKey));
      const [blob, result] = await Promise.all([
        buffer(enc),
        enc.result,
        pipeline(Readable.from([bytes(v.plaintext)]), enc),
      ]);
      expect(hex(blob)).toBe(v.blob);
      expect(hex(result.fileEncSha256)).toBe(v.fileEncSha256);
      expect(hex(result.fileSha256)).toBe(v.fileSha256);

      const dec = createDecryptStream({
        mediaKey: bytes(v.mediaKey),
        mediaType: v.mediaType,
        fileSha256: bytes(v.fileSha256),
        fileEncSha256: bytes(v.fileEncSha256),
      });
      const [plaintext] = await Promise.all([
        buffer(dec),
        pipeline(Readable.from([bytes(v.blob)]), dec),
      ]);
      expect(hex(plaintext)).toBe(v.plaintext);
    });
  });
});
