import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatekeeperError } from "../../../src/gatekeeper/client/index.js";
import { describeContent, type MediaContent } from "../../../src/gatekeeper/content/index.js";
import { ChatError } from "../../../src/sandbox/chat/chat-error.js";
import { extensionFor, fileKind } from "../../../src/sandbox/chat/file-kind.js";
import {
  readFileToSend,
  safeFileName,
  saveMedia,
  uploadFile,
  writeNewFile,
} from "../../../src/sandbox/chat/media.js";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
const JPEG = Buffer.from("ffd8ffe000104a464946", "hex");
const OPUS = Buffer.concat([Buffer.from("OggS\0\x02"), Buffer.alloc(22), Buffer.from("OpusHead")]);
const MP4 = Buffer.concat([Buffer.from("00000018", "hex"), Buffer.from("ftypisom")]);
const M4A = Buffer.concat([Buffer.from("00000018", "hex"), Buffer.from("ftypM4A ")]);

async function rejection(p: Promise<unknown>): Promise<ChatError> {
  const err: unknown = await p.then(
    () => new Error("resolved"),
    (e: unknown) => e,
  );
  if (err instanceof ChatError) return err;
  throw err;
}

/** An upload and download that keep blobs in memory, the real media crypto around them. */
function memoryHost() {
  const blobs = new Map<string, Uint8Array>();
  return {
    blobs,
    uploadMedia: async (blob: Uint8Array) => {
      const path = `/media/d/${blobs.size + 1}`;
      blobs.set(path, blob);
      return { url: `http://host${path}`, directPath: path };
    },
    downloadMedia: async (path: string) => {
      const blob = blobs.get(path);
      if (!blob) throw new GatekeeperError("not-found", "media download failed with HTTP 404");
      return blob;
    },
  };
}

describe("the chat tool's media", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "chat-media-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe("what a file is", () => {
    it("goes by the first bytes before the name", () => {
      expect(fileKind("a.jpg", PNG)).toEqual({ kind: "image", mimetype: "image/png" });
      expect(fileKind("noext", JPEG)).toEqual({ kind: "image", mimetype: "image/jpeg" });
      expect(fileKind("clip", MP4)).toEqual({ kind: "video", mimetype: "video/mp4" });
      expect(fileKind("song", M4A)).toEqual({ kind: "audio", mimetype: "audio/mp4" });
      expect(fileKind("note", OPUS)).toEqual({
        kind: "audio",
        mimetype: "audio/ogg; codecs=opus",
      });
    });

    it("falls back to the extension, and sends anything else as a document", () => {
      const text = Buffer.from("hello");
      expect(fileKind("song.MP3", text)).toEqual({ kind: "audio", mimetype: "audio/mpeg" });
      expect(fileKind("report.pdf", text)).toEqual({
        kind: "document",
        mimetype: "application/pdf",
      });
      expect(fileKind("data.qqqq", text)).toEqual({
        kind: "document",
        mimetype: "application/octet-stream",
      });
      // An SVG may carry script: a file, not a picture.
      expect(fileKind("logo.svg", text).kind).toBe("document");
    });

    it("names a received file's extension by its type", () => {
      expect(extensionFor("image/jpeg")).toBe("jpg");
      expect(extensionFor("audio/ogg; codecs=opus")).toBe("ogg");
      expect(extensionFor("application/x-unheard-of")).toBe("bin");
    });
  });

  describe("reading a file to send", () => {
    it("refuses a missing path, a folder, an empty file and one over 100 MiB in one line each", async () => {
      const empty = join(dir, "empty.txt");
      await writeFile(empty, "");
      // Sparse: its size is over the cap without writing 100 MiB. Padding and MAC count
      // too: 16 bytes under 100 MiB is one byte too many once encrypted.
      const huge = join(dir, "huge.mp4");
      await writeFile(huge, "");
      await truncate(huge, 100 * 1024 * 1024 - 16);
      const cases: [string, string, RegExp][] = [
        [join(dir, "nope.jpg"), "bad-file", /^no such file: .*nope\.jpg$/],
        [dir, "bad-file", /is not a file$/],
        [empty, "bad-file", /is empty$/],
        [
          huge,
          "too-large",
          /^huge\.mp4 is too large \(104857584 bytes\): .* up to 100 MiB, encryption included$/,
        ],
      ];
      for (const [path, code, message] of cases) {
        const err = await rejection(readFileToSend(path, { voice: false }));
        expect(err.code, path).toBe(code);
        expect(err.message, path).toMatch(message);
      }
    });

    it.skipIf(process.getuid?.() === 0)("says when a file cannot be read", async () => {
      const locked = join(dir, "locked.jpg");
      await writeFile(locked, JPEG);
      await chmod(locked, 0o000);
      const err = await rejection(readFileToSend(locked, { voice: false }));
      expect(err.message).toMatch(/^cannot read .*locked\.jpg: permission denied$/);
    });

    it("sends only audio as a voice message, saying Opus only of Opus", async () => {
      const photo = join(dir, "photo.png");
      await writeFile(photo, PNG);
      const err = await rejection(readFileToSend(photo, { voice: true }));
      expect(err.message).toBe("photo.png is not an audio file (image/png)");
      const opus = join(dir, "note.ogg");
      await writeFile(opus, OPUS);
      expect((await readFileToSend(opus, { voice: true })).kind).toEqual({
        kind: "audio",
        mimetype: "audio/ogg; codecs=opus",
      });
      const vorbis = join(dir, "song.ogg");
      await writeFile(
        vorbis,
        Buffer.concat([Buffer.from("OggS\0\x02"), Buffer.alloc(22), Buffer.from("\x01vorbis")]),
      );
      expect((await readFileToSend(vorbis, { voice: true })).kind.mimetype).toBe("audio/ogg");
    });
  });

  describe("sending and saving", () => {
    it("a file uploaded encrypted saves back to the same bytes", async () => {
      const host = memoryHost();
      const path = join(dir, "report.pdf");
      const bytes = Buffer.concat([Buffer.from("%PDF-1.7\n"), randomBytes(5000)]);
      await writeFile(path, bytes);
      const message = await uploadFile(host, await readFileToSend(path, { voice: false }), "Q3");
      const kind = describeContent(message) as MediaContent;
      expect(kind).toMatchObject({ kind: "document", fileName: "report.pdf", caption: "Q3" });
      expect(kind.media.mimetype).toBe("application/pdf");
      // The blob on the host is not the plaintext.
      expect(Buffer.from([...host.blobs.values()][0]!).includes(bytes.subarray(0, 64))).toBe(false);

      const out = join(dir, "out");
      const saved = await saveMedia(host, kind, "3EB0AABBCCDDEEFF0011", out);
      expect(saved).toBe(join(out, "report.pdf"));
      expect((await readFile(saved)).equals(bytes)).toBe(true);
      // The same again does not overwrite it.
      expect(await saveMedia(host, kind, "3EB0AABBCCDDEEFF0012", out)).toBe(
        join(out, "report (1).pdf"),
      );
    });

    it("refuses a caption on audio", async () => {
      const path = join(dir, "song.m4a");
      await writeFile(path, M4A);
      const file = await readFileToSend(path, { voice: false });
      const err = await rejection(uploadFile(memoryHost(), file, "listen"));
      expect(err.code).toBe("wrong-kind");
    });

    it("writes nothing when the blob was tampered with or is gone", async () => {
      const host = memoryHost();
      const path = join(dir, "pic.jpg");
      await writeFile(path, Buffer.concat([JPEG, randomBytes(300)]));
      const kind = describeContent(
        await uploadFile(host, await readFileToSend(path, { voice: false })),
      ) as MediaContent;
      const out = join(dir, "tampered");
      const blob = host.blobs.get(kind.media.directPath!)!;
      blob[0] = blob[0]! ^ 1;
      const bad = await rejection(saveMedia(host, kind, "3EB0000000000000AAAA", out));
      expect(bad.message).toMatch(/does not match its checksum/);
      host.blobs.clear();
      const gone = await rejection(saveMedia(host, kind, "3EB0000000000000AAAA", out));
      expect(gone.message).toBe("it is no longer on the media host");
      expect(await readdir(out).catch(() => [])).toEqual([]);
    });
  });

  describe("file names of received files", () => {
    it("never leave the folder, whatever the contact named the file", () => {
      expect(safeFileName("../../.ssh/authorized_keys", "f.bin")).toBe("authorized_keys");
      expect(safeFileName("..\\..\\evil.exe", "f.bin")).toBe("evil.exe");
      expect(safeFileName("..", "f.bin")).toBe("f.bin");
      expect(safeFileName("/", "f.bin")).toBe("f.bin");
      expect(safeFileName(".bashrc", "f.bin")).toBe("bashrc");
      expect(safeFileName("a\nb\u202egpj.exe", "f.bin")).toBe("a_b_gpj.exe");
      expect(safeFileName(undefined, "image-A1B2C3.jpg")).toBe("image-A1B2C3.jpg");
      const long = safeFileName(`${"x".repeat(300)}.pdf`, "f.bin");
      expect(long.length).toBe(120);
      expect(long.endsWith(".pdf")).toBe(true);
    });

    it("get a suffix instead of overwriting", async () => {
      const out = join(dir, "names");
      expect(await writeNewFile(out, "a.txt", Buffer.from("1"))).toBe(join(out, "a.txt"));
      expect(await writeNewFile(out, "a.txt", Buffer.from("2"))).toBe(join(out, "a (1).txt"));
      expect(await writeNewFile(out, "a.txt", Buffer.from("3"))).toBe(join(out, "a (2).txt"));
      expect(await readFile(join(out, "a.txt"), "utf8")).toBe("1");
    });
  });
});
