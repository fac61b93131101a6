/**
 * `gatekeeper-sandbox chat` with files, replies, edits, reactions and deletions: runChat as
 * Alice against a real sandbox, Bob as a real GatekeeperClient, both native users.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatekeeperClient, MessageEvent } from "../../../src/gatekeeper/client/index.js";
import {
  type ContentKind,
  type MediaContent,
  type MediaRef,
  type TextContent,
  describeContent,
  mediaMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import { decryptMedia, encryptMedia } from "../../../src/gatekeeper/media/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import { runChat } from "../../../src/sandbox/chat/index.js";
import { Recorder, TestFiles, nativeClient } from "../client/helpers.js";

const ALICE = "+4917300000001";
const BOB = "+4917300000002";
const CAROL = "+4917300000003";
/** The sandbox's media cap for this test, so that its refusal can be seen without 100 MiB. */
const HOST_CAP = 64 * 1024;
const PNG_HEAD = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");

/** The chat's output; waits for a line matching a pattern, among those after `from`. */
class Lines {
  readonly lines: string[] = [];

  push = (text: string): void => {
    this.lines.push(...text.split("\n"));
  };

  /** Where the lines to come start. */
  mark(): number {
    return this.lines.length;
  }

  async waitFor(re: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines.slice(from)) {
        const match = re.exec(line);
        if (match) return match;
      }
      if (Date.now() > end)
        throw new Error(`no line matching ${re}; got:\n${this.lines.slice(from).join("\n")}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

describe("gatekeeper-sandbox chat: files and message actions", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let dir: string;
  let mediaDir: string;
  let bob: GatekeeperClient;
  let bobGot: Recorder<"message">;
  /** How many of Bob's messages the test looked at. */
  let bobTook = 0;
  let aliceJid: string;
  let bobJid: string;
  /** The id of the image Alice sent first. */
  let photoId = "";
  const input = new PassThrough();
  const out = new Lines();
  let chat: Promise<void>;

  /** Types a line into Alice's chat; resolves with the first line matching `expected` after it. */
  async function type(line: string, expected: RegExp): Promise<RegExpMatchArray> {
    const from = out.mark();
    input.write(`${line}\n`);
    return out.waitFor(expected, from);
  }

  /** The next message Bob receives (or received since the last call), with what it is. */
  async function bobReceives(): Promise<{ m: MessageEvent; kind: ContentKind }> {
    bobTook += 1;
    const m = (await bobGot.waitFor(bobTook))[bobTook - 1]!;
    return { m, kind: describeContent(m.content) };
  }

  /** Bob uploads `bytes` and sends them as media; `mediaKey` overrides the key the message states. */
  async function bobSendsMedia(
    kind: "image" | "document",
    bytes: Uint8Array,
    opts: { fileName?: string; mediaKey?: Uint8Array } = {},
  ): Promise<string> {
    const encrypted = encryptMedia(bytes, kind);
    const uploaded = await bob.uploadMedia(encrypted.blob);
    const ref: MediaRef = {
      url: uploaded.url,
      directPath: uploaded.directPath,
      mediaKey: opts.mediaKey ?? encrypted.mediaKey,
      fileSha256: encrypted.fileSha256,
      fileEncSha256: encrypted.fileEncSha256,
      fileLength: encrypted.fileLength,
      mimetype: kind === "image" ? "image/png" : "text/plain",
    };
    const content =
      kind === "image"
        ? mediaMessage("image", ref)
        : mediaMessage(
            "document",
            ref,
            opts.fileName === undefined ? {} : { fileName: opts.fileName },
          );
    return (await bob.sendMessage(aliceJid, content)).id;
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ limits: { mediaMaxBytes: HOST_CAP } });
    files = new TestFiles();
    dir = await mkdtemp(join(tmpdir(), "chat-e2e-"));
    mediaDir = join(dir, "received");
    aliceJid = (await sandbox.admin.addUser({ phone: ALICE, name: "Alice" })).jid;
    const bobUser = await sandbox.admin.addUser({ phone: BOB, name: "Bob" });
    await sandbox.admin.addUser({ phone: CAROL, name: "Carol" });
    bobJid = bobUser.jid;
    bob = nativeClient(sandbox, bobUser, await files.db());
    bobGot = new Recorder(bob, "message");
    await bob.start();
    chat = runChat({
      adminUrl: sandbox.httpUrl,
      phone: ALICE,
      statePath: ":memory:",
      input,
      output: out.push,
      mediaDir,
    });
    await out.waitFor(/^logged in as \+4917300000001/);
  });
  afterAll(async () => {
    input.end("/quit\n");
    await chat;
    await bob.stop();
    await sandbox.close();
    await files.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("asks for a contact before anything is sent", async () => {
    await type("/send photo.png", /^ {2}! choose a contact first/);
    await type("/delete #ABCDEF", /^ {2}! choose a contact first/);
    await type(`/to ${BOB}`, /now chatting with Bob/);
  });

  it("sends an image from a file that Bob downloads and decrypts to the same bytes", async () => {
    const bytes = Buffer.concat([PNG_HEAD, randomBytes(3000)]);
    const path = join(dir, "photo.png");
    await writeFile(path, bytes);
    const [, short] = await type(
      `/send ${path} a caption`,
      /^ {2}sent #([0-9A-F]{6}) at \S+: image photo\.png, 3016 bytes, image\/png$/,
    );
    const { m, kind } = await bobReceives();
    expect(m.id.endsWith(short!)).toBe(true);
    photoId = m.id;
    expect(kind).toMatchObject({ kind: "image", caption: "a caption" });
    const media = (kind as MediaContent).media;
    expect(media.mimetype).toBe("image/png");
    const blob = await bob.downloadMedia(media.directPath ?? media.url, {
      fileEncSha256: media.fileEncSha256,
    });
    const plain = decryptMedia(blob, {
      mediaKey: media.mediaKey,
      mediaType: "image",
      fileEncSha256: media.fileEncSha256,
      fileSha256: media.fileSha256,
    });
    expect(Buffer.from(plain).equals(bytes)).toBe(true);
    // A blob that does not match its hash is damaged, not a failed download worth retrying.
    const wrongHash = Uint8Array.from(media.fileEncSha256).reverse();
    await expect(
      bob.downloadMedia(media.directPath ?? media.url, { fileEncSha256: wrongHash }),
    ).rejects.toMatchObject({ code: "media-damaged" });
  });

  it("sends any other file as a document with its name", async () => {
    const path = join(dir, "notes.txt");
    await writeFile(path, "remember the milk\n");
    await type(`/send "${path}"`, /^ {2}sent #\w{6} at \S+: document notes\.txt/);
    const { kind } = await bobReceives();
    expect(kind).toMatchObject({ kind: "document", fileName: "notes.txt" });
    expect((kind as MediaContent).media.mimetype).toBe("text/plain");
  });

  it("sends an Ogg/Opus file as a voice message", async () => {
    const path = join(dir, "note.ogg");
    const head = Buffer.concat([
      Buffer.from("OggS\0\x02"),
      Buffer.alloc(22),
      Buffer.from("OpusHead"),
    ]);
    await writeFile(path, Buffer.concat([head, randomBytes(700)]));
    await type(`/voice ${path}`, /^ {2}sent #\w{6} at \S+: voice message note\.ogg/);
    const { kind } = await bobReceives();
    expect(kind).toMatchObject({ kind: "audio", ptt: true });
    expect((kind as MediaContent).media.mimetype).toBe("audio/ogg; codecs=opus");
  });

  it("refuses a missing file, one over 100 MiB and one the media host refuses, in one line each", async () => {
    await type("/send /no/such/file.png", /^ {2}! no such file: \/no\/such\/file\.png$/);
    const huge = join(dir, "huge.mp4");
    await writeFile(huge, "");
    await truncate(huge, 100 * 1024 * 1024 + 1);
    await type(
      `/send ${huge}`,
      /^ {2}! huge\.mp4 is too large \(104857601 bytes\): .* up to 100 MiB/,
    );
    const big = join(dir, "big.bin");
    await writeFile(big, randomBytes(HOST_CAP + 1));
    await type(
      `/send ${big}`,
      /^ {2}! could not upload big\.bin: the media host refused it as too large$/,
    );
    await type("/voice /no/such/note.ogg", /^ {2}! no such file/);
  });

  it("saves Bob's image in --media-dir, with the same bytes, and says where", async () => {
    const bytes = Buffer.concat([PNG_HEAD, randomBytes(2000)]);
    const from = out.mark();
    const id = await bobSendsMedia("image", bytes);
    const [, saved] = await out.waitFor(
      new RegExp(`^\\S+ #${id.slice(-6)} Bob: \\[image, 2016 bytes\\] → saved to (.+)$`),
      from,
    );
    expect(saved).toBe(join(mediaDir, `image-${id.slice(-6)}.png`));
    expect((await readFile(saved!)).equals(bytes)).toBe(true);
  });

  it("saves a file under its own name only inside --media-dir, never overwriting", async () => {
    const from = out.mark();
    await bobSendsMedia("document", Buffer.from("one"), { fileName: "../../escape.txt" });
    await bobSendsMedia("document", Buffer.from("two"), { fileName: "../../escape.txt" });
    await out.waitFor(/→ saved to .*escape \(1\)\.txt$/, from);
    expect((await readdir(dir)).includes("escape.txt")).toBe(false);
    expect(await readFile(join(mediaDir, "escape.txt"), "utf8")).toBe("one");
    expect(await readFile(join(mediaDir, "escape (1).txt"), "utf8")).toBe("two");
  });

  it("says so, and saves nothing, when a file fails verification", async () => {
    const before = await readdir(mediaDir);
    const from = out.mark();
    // The right blob, but a key that does not open it: the MAC check fails.
    await bobSendsMedia("image", Buffer.concat([PNG_HEAD, randomBytes(500)]), {
      mediaKey: randomBytes(32),
    });
    await out.waitFor(/Bob: \[image, 516 bytes\] → NOT saved: it failed its integrity check/, from);
    expect(await readdir(mediaDir)).toEqual(before);
  });

  describe("replies, edits, reactions and deletions", () => {
    let bobsId: string;
    let mineId: string;

    beforeAll(async () => {
      const from = out.mark();
      bobsId = (await bob.sendMessage(aliceJid, textMessage("lunch at noon?"))).id;
      await out.waitFor(new RegExp(`#${bobsId.slice(-6)} Bob: lunch at noon\\?$`), from);
    });

    it("a reply quotes Bob's message by id and sender", async () => {
      await type(`/reply #${bobsId.slice(-6)} sure`, /sent #\w{6} at \S+: reply to #/);
      const { kind } = await bobReceives();
      expect(kind).toMatchObject({
        kind: "text",
        text: "sure",
        contextInfo: { stanzaId: bobsId, participant: bobJid },
      });
      // A copy of the quoted text, for Bob's app to show the quote.
      const quoted = (kind as TextContent).contextInfo?.quotedMessage;
      expect(quoted && describeContent(quoted)).toEqual({ kind: "text", text: "lunch at noon?" });
    });

    it("an edit changes Alice's own text, named by its full id too, or a file's caption", async () => {
      const [, short] = await type("see you at 1", /^ {2}sent #(\w{6}) at \S+$/);
      mineId = (await bobReceives()).m.id;
      expect(mineId.endsWith(short!)).toBe(true);
      await type(`/edit ${mineId.toLowerCase()} see you at 12`, /^ {2}edited #/);
      const { kind } = await bobReceives();
      expect(kind).toMatchObject({
        kind: "edit",
        key: { id: mineId, fromMe: true },
        newContent: { kind: "text", text: "see you at 12" },
      });
      // A file's caption can be edited as well.
      await type(`/edit #${photoId.slice(-6)} a better caption`, /^ {2}edited #/);
      expect((await bobReceives()).kind).toMatchObject({
        kind: "edit",
        key: { id: photoId, fromMe: true },
        newContent: { kind: "image", caption: "a better caption" },
      });
    });

    it("a reaction goes to Bob's message, and an empty one removes it", async () => {
      await type(`/react #${bobsId.slice(-6)} 👍`, /^ {2}reacted 👍 to #/);
      expect((await bobReceives()).kind).toMatchObject({
        kind: "reaction",
        key: { id: bobsId, fromMe: false },
        emoji: "👍",
      });
      await type(`/react ${bobsId.slice(-6)}`, /^ {2}removed your reaction to #/);
      expect((await bobReceives()).kind).toMatchObject({
        kind: "reaction",
        key: { id: bobsId },
        emoji: "",
      });
    });

    it("a deletion revokes Alice's own message; after it, the message is gone", async () => {
      await type(`/delete #${mineId.slice(-6)}`, /^ {2}deleted #/);
      expect((await bobReceives()).kind).toMatchObject({
        kind: "revoke",
        key: { id: mineId, fromMe: true },
      });
      await type(`/edit #${mineId.slice(-6)} again`, /^ {2}! #\w{6} was deleted$/);
    });

    it("refuses unknown ids, others' messages and ids of another chat, in one line each", async () => {
      await type("/react #ABCDEF 👍", /^ {2}! no message #ABCDEF in this session/);
      await type("/reply @bob hello", /^ {2}@bob is not a message id/);
      await type("/reply hello there", /^ {2}! no message #HELLO in this session/);
      await type(
        `/edit #${bobsId.slice(-6)} x`,
        /^ {2}! #\w{6} is Bob's: you can edit only your own/,
      );
      await type(`/delete #${bobsId.slice(-6)}`, /^ {2}! #\w{6} is Bob's: you can delete only/);
      await type(`/to ${CAROL}`, /now chatting with Carol/);
      await type(
        `/react #${bobsId.slice(-6)} 👍`,
        /^ {2}! #\w{6} is in the chat with Bob, not the current one/,
      );
      await type(`/to ${BOB}`, /now chatting with Bob/);
    });
  });
});
