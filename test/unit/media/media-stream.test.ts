import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import {
  MediaError,
  createDecryptStream,
  createEncryptStream,
  decryptMedia,
  encryptMedia,
} from "../../../src/gatekeeper/media/index.js";
import type {
  DecryptStreamOptions,
  MediaErrorCode,
  MediaType,
} from "../../../src/gatekeeper/media/index.js";
import type { Transform } from "node:stream";

// Odd sizes so that chunk edges fall inside cipher blocks and inside the MAC.
const CHUNK_SIZES = [1, 7, 4093, 65_537, 13, 100_003, 3, 31];

function oddChunks(data: Uint8Array): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = CHUNK_SIZES[i % CHUNK_SIZES.length] ?? 1;
    chunks.push(Buffer.from(data.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}

async function through(stream: Transform, chunks: Buffer[]): Promise<Buffer> {
  const [out] = await Promise.all([buffer(stream), pipeline(Readable.from(chunks), stream)]);
  return out;
}

async function expectStreamError(run: Promise<unknown>, code: MediaErrorCode): Promise<void> {
  const err: unknown = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MediaError);
  expect((err as MediaError).code).toBe(code);
}

const BIG = randomBytes(5 * 1024 * 1024 + 3);

describe("streaming media crypto", () => {
  it.each<MediaType>(["image", "video", "audio", "document"])(
    "%s: 5 MB in odd-size chunks round-trips and matches the in-memory scheme",
    async (mediaType) => {
      const enc = createEncryptStream(mediaType);
      const blob = await through(enc, oddChunks(BIG));
      const result = await enc.result;
      expect(result.fileLength).toBe(BIG.length);
      expect(Buffer.from(result.mediaKey)).toEqual(Buffer.from(enc.mediaKey));

      const inMemory = encryptMedia(BIG, mediaType, result.mediaKey);
      expect(blob.equals(inMemory.blob)).toBe(true);
      expect(Buffer.from(result.fileSha256)).toEqual(Buffer.from(inMemory.fileSha256));
      expect(Buffer.from(result.fileEncSha256)).toEqual(Buffer.from(inMemory.fileEncSha256));

      const dec = createDecryptStream({ ...result, mediaType, maxSize: BIG.length });
      const plaintext = await through(dec, oddChunks(blob));
      expect(plaintext.equals(BIG)).toBe(true);
    },
  );

  it("emits plaintext while the blob is still arriving (memory stays flat)", async () => {
    const enc = encryptMedia(BIG, "video");
    const dec = createDecryptStream({ ...enc, mediaType: "video" });
    let emitted = 0;
    dec.on("data", (chunk: Buffer) => (emitted += chunk.length));
    const done = new Promise<void>((resolve, reject) => dec.on("end", resolve).on("error", reject));
    for (const chunk of oddChunks(enc.blob)) {
      if (!dec.write(chunk)) await new Promise((r) => dec.once("drain", r));
    }
    await new Promise((r) => setImmediate(r));
    // Only the MAC and the last cipher block are held back until the end.
    expect(emitted).toBeGreaterThanOrEqual(BIG.length - 32);
    dec.end();
    await done;
    expect(emitted).toBe(BIG.length);
  });

  it("decrypts a blob produced in memory, and vice versa", async () => {
    const data = randomBytes(70_001);
    const enc = encryptMedia(data, "document");
    const plain = await through(
      createDecryptStream({ ...enc, mediaType: "document" }),
      oddChunks(enc.blob),
    );
    expect(plain.equals(data)).toBe(true);

    const stream = createEncryptStream("document");
    const blob = await through(stream, oddChunks(data));
    const result = await stream.result;
    expect(Buffer.from(decryptMedia(blob, { ...result, mediaType: "document" })).equals(data)).toBe(
      true,
    );
  });

  it("handles empty input", async () => {
    const stream = createEncryptStream("image");
    const blob = await through(stream, []);
    const result = await stream.result;
    expect(blob).toHaveLength(26);
    expect(result.fileLength).toBe(0);
    const plain = await through(createDecryptStream({ ...result, mediaType: "image" }), [blob]);
    expect(plain).toHaveLength(0);
  });

  it("result rejects when the encrypt stream is destroyed before finishing", async () => {
    const stream = createEncryptStream("image");
    const streamError = new Promise((resolve) => stream.on("error", resolve));
    stream.write(randomBytes(100));
    stream.destroy(new Error("upload aborted"));
    await expect(stream.result).rejects.toThrow("upload aborted");
    await expect(streamError).resolves.toBeInstanceOf(Error);
  });

  describe("errors the stream on a bad blob", () => {
    const data = randomBytes(200_000);
    const enc = encryptMedia(data, "audio");
    const options: DecryptStreamOptions = { ...enc, mediaType: "audio" };
    const run = (blob: Uint8Array, opts: DecryptStreamOptions = options) =>
      through(createDecryptStream(opts), oddChunks(blob));
    const flipped = (index: number): Buffer => {
      const b = Buffer.from(enc.blob);
      b[index] = (b[index] ?? 0) ^ 0x80;
      return b;
    };
    const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

    it("a flipped MAC bit with the blob hash recomputed → bad-mac", async () => {
      const blob = flipped(enc.blob.length - 1);
      await expectStreamError(run(blob, { ...options, fileEncSha256: sha256(blob) }), "bad-mac");
    });

    it("a flipped ciphertext bit with the blob hash recomputed → bad-mac", async () => {
      const blob = flipped(1000);
      await expectStreamError(run(blob, { ...options, fileEncSha256: sha256(blob) }), "bad-mac");
    });

    it("a tampered blob against the original hash → enc-hash-mismatch", async () => {
      await expectStreamError(run(flipped(1000)), "enc-hash-mismatch");
    });

    it("a wrong fileSha256 → plaintext-hash-mismatch", async () => {
      await expectStreamError(
        run(enc.blob, { ...options, fileSha256: new Uint8Array(32) }),
        "plaintext-hash-mismatch",
      );
    });

    it("a blob cut short → truncated", async () => {
      await expectStreamError(run(enc.blob.subarray(0, enc.blob.length - 7)), "truncated");
      await expectStreamError(run(enc.blob.subarray(0, 9)), "truncated");
    });

    it("a blob over maxSize → too-large, before the whole blob was read", async () => {
      const dec = createDecryptStream({ ...options, maxSize: 50_000 });
      let emitted = 0;
      let read = 0;
      dec.on("data", (c: Buffer) => (emitted += c.length));
      const source = function* () {
        for (const chunk of oddChunks(enc.blob)) {
          read += chunk.length;
          yield chunk;
        }
      };
      await expectStreamError(pipeline(Readable.from(source()), dec), "too-large");
      expect(emitted).toBeLessThanOrEqual(50_000);
      expect(read).toBeLessThan(enc.blob.length / 2);
    });

    it("maxSize equal to the file size is accepted", async () => {
      const plain = await run(enc.blob, { ...options, maxSize: data.length });
      expect(plain.equals(data)).toBe(true);
    });
  });
});
