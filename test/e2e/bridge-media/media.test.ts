/**
 * Media both ways through the real parts: a Matrix user (matrix-js-sdk, the content
 * repository) and a native gatekeeper user (GatekeeperClient; it fetches the bridge-hosted
 * blobs through the sandbox's media proxy). Every file arrives byte for byte; voice arrives
 * as voice; captions go both ways; limits, corrupt blobs and the hosted blob's lifetime are
 * what a user or an operator would notice.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import type { MatrixActor } from "../bridge/matrix-actor.js";
import type { NativeActor } from "../bridge/native-actor.js";
import { textOf } from "../bridge/native-actor.js";
import type { MatrixEvent } from "../../harness/matrix-user.js";
import {
  MB,
  MediaWorld,
  eventually,
  filesIn,
  matrixDownload,
  matrixUpload,
  mediaOf,
  nativeFetch,
  nativeSendMedia,
  randomFile,
} from "./media-world.js";

const SEND_STATUS = "com.beeper.message_send_status";

describe("media both ways", () => {
  let w: MediaWorld;
  let alice: MatrixActor;
  let bob: NativeActor;
  let portal: string;
  let aliceJid: string;

  beforeAll(async () => {
    w = await MediaWorld.create("media");
    await w.startBridge();
    ({ alice, bob, portal, aliceJid } = await w.aliceChattingWithBob());
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  /** Alice sends `content`; resolves with the next message Bob receives. */
  async function aliceSends(content: Record<string, unknown>): Promise<MessageEvent> {
    const before = bob.received.length;
    await alice.send(portal, content);
    return bob.waitFor((m) => bob.received.indexOf(m) >= before, "Alice's message");
  }

  /** The next puppet message in the portal matching `match`. */
  function puppetMessage(match: (e: MatrixEvent) => boolean): Promise<MatrixEvent> {
    return alice.waitForMessage(
      portal,
      (e) => w.world.identity.isPuppet(e.getSender() ?? "") && match(e),
    );
  }

  const download = (mxc: unknown): Promise<Buffer> =>
    matrixDownload(w.world.target.url, alice, String(mxc));

  it("images: byte-exact both ways, with caption, size and a preview", async () => {
    const photo = randomFile(300_000);
    const url = await matrixUpload(alice, photo, "image/png", "photo.png");
    const received = await aliceSends({
      msgtype: "m.image",
      body: "the view from here",
      format: "org.matrix.custom.html",
      formatted_body: "the <em>view</em> from here",
      filename: "photo.png",
      url,
      info: { mimetype: "image/png", size: photo.length, w: 640, h: 480 },
    });
    const image = mediaOf(received);
    expect(image).toMatchObject({
      kind: "image",
      caption: "the _view_ from here",
      width: 640,
      height: 480,
    });
    expect(image.media.mimetype).toBe("image/png");
    expect(image.media.fileLength).toBe(photo.length);
    expect((await nativeFetch(bob, image)).equals(photo)).toBe(true);

    const reply = randomFile(200_000);
    const preview = randomFile(2_000);
    await nativeSendMedia(bob, aliceJid, "image", reply, {
      mimetype: "image/jpeg",
      options: { caption: "and *mine*", width: 800, height: 600, thumbnail: preview },
    });
    const event = await puppetMessage((e) => e.getContent().msgtype === "m.image");
    const c = event.getContent();
    expect(c.body).toBe("and *mine*");
    expect(c.formatted_body).toBe("and <strong>mine</strong>");
    expect(c.filename).toBe("image.jpg");
    expect(c.info).toMatchObject({ mimetype: "image/jpeg", size: reply.length, w: 800, h: 600 });
    expect((await download(c.url)).equals(reply)).toBe(true);
    expect((await download(c.info.thumbnail_url)).equals(preview)).toBe(true);
  });

  it("videos: byte-exact both ways, with duration and caption", async () => {
    const clip = randomFile(700_000);
    const url = await matrixUpload(alice, clip, "video/mp4", "clip.mp4");
    const received = await aliceSends({
      msgtype: "m.video",
      body: "clip.mp4",
      url,
      info: { mimetype: "video/mp4", size: clip.length, duration: 12_400, w: 320, h: 240 },
    });
    const video = mediaOf(received);
    expect(video).toMatchObject({ kind: "video", seconds: 12, width: 320, height: 240 });
    expect(video.caption).toBeUndefined();
    expect((await nativeFetch(bob, video)).equals(clip)).toBe(true);

    const back = randomFile(500_000);
    await nativeSendMedia(bob, aliceJid, "video", back, {
      mimetype: "video/mp4",
      options: { caption: "watch this", seconds: 7 },
    });
    const event = await puppetMessage((e) => e.getContent().msgtype === "m.video");
    const c = event.getContent();
    expect(c.body).toBe("watch this");
    expect(c.filename).toBe("video.mp4");
    expect(c.info).toMatchObject({ mimetype: "video/mp4", duration: 7000, size: back.length });
    expect((await download(c.url)).equals(back)).toBe(true);
  });

  it("files: byte-exact both ways, with file name and caption", async () => {
    const doc = randomFile(1_500_000);
    const url = await matrixUpload(alice, doc, "application/pdf", "report.pdf");
    const received = await aliceSends({
      msgtype: "m.file",
      body: "the report, as promised",
      filename: "report.pdf",
      url,
      info: { mimetype: "application/pdf", size: doc.length },
    });
    const file = mediaOf(received);
    expect(file).toMatchObject({
      kind: "document",
      fileName: "report.pdf",
      caption: "the report, as promised",
    });
    expect((await nativeFetch(bob, file)).equals(doc)).toBe(true);

    const back = randomFile(400_000);
    await nativeSendMedia(bob, aliceJid, "document", back, {
      mimetype: "application/zip",
      options: { fileName: "photos.zip" },
    });
    const event = await puppetMessage((e) => e.getContent().msgtype === "m.file");
    const c = event.getContent();
    // No caption: the body is the file name (MSC2530).
    expect(c.body).toBe("photos.zip");
    expect(c.filename).toBe("photos.zip");
    expect(c.info).toMatchObject({ mimetype: "application/zip", size: back.length });
    expect((await download(c.url)).equals(back)).toBe(true);
  });

  it("audio files: byte-exact both ways, not as voice", async () => {
    const song = randomFile(600_000);
    const url = await matrixUpload(alice, song, "audio/mpeg", "song.mp3");
    const received = await aliceSends({
      msgtype: "m.audio",
      body: "song.mp3",
      url,
      info: { mimetype: "audio/mpeg", size: song.length, duration: 95_000 },
    });
    const audio = mediaOf(received);
    expect(audio).toMatchObject({ kind: "audio", seconds: 95 });
    expect(audio.ptt).toBeFalsy();
    expect(audio.media.mimetype).toBe("audio/mpeg");
    expect((await nativeFetch(bob, audio)).equals(song)).toBe(true);

    const back = randomFile(300_000);
    await nativeSendMedia(bob, aliceJid, "audio", back, {
      mimetype: "audio/mp4",
      options: { seconds: 30 },
    });
    const event = await puppetMessage(
      (e) => e.getContent().msgtype === "m.audio" && e.getContent().info?.duration === 30_000,
    );
    const c = event.getContent();
    expect(c["org.matrix.msc3245.voice"]).toBeUndefined();
    expect(c.info).toMatchObject({ mimetype: "audio/mp4", size: back.length });
    expect((await download(c.url)).equals(back)).toBe(true);
  });

  it("voice messages stay voice messages both ways (MSC3245 ↔ ptt, ogg/opus)", async () => {
    const voice = randomFile(40_000);
    const url = await matrixUpload(alice, voice, "audio/ogg", "Voice message.ogg");
    const waveform = Array.from({ length: 100 }, (_, i) => (i * 37) % 1025);
    // What Element sends for a recorded voice message.
    const received = await aliceSends({
      msgtype: "m.audio",
      body: "Voice message",
      url,
      info: { mimetype: "audio/ogg", size: voice.length, duration: 4_200 },
      "org.matrix.msc1767.text": "Voice message",
      "org.matrix.msc1767.file": { url, name: "Voice message.ogg", mimetype: "audio/ogg" },
      "org.matrix.msc1767.audio": { duration: 4_200, waveform },
      "org.matrix.msc3245.voice": {},
    });
    const note = mediaOf(received);
    expect(note).toMatchObject({ kind: "audio", ptt: true, seconds: 4 });
    expect(note.media.mimetype).toBe("audio/ogg; codecs=opus");
    expect(note.waveform).toHaveLength(64);
    expect(Math.max(...note.waveform!)).toBeLessThanOrEqual(100);
    expect((await nativeFetch(bob, note)).equals(voice)).toBe(true);

    const back = randomFile(30_000);
    const samples = new Uint8Array(64).map((_, i) => (i * 3) % 101);
    await nativeSendMedia(bob, aliceJid, "audio", back, {
      mimetype: "audio/ogg; codecs=opus",
      options: { ptt: true, seconds: 3, waveform: samples },
    });
    const event = await puppetMessage(
      (e) => e.getContent().msgtype === "m.audio" && "org.matrix.msc3245.voice" in e.getContent(),
    );
    const c = event.getContent();
    expect(c["org.matrix.msc3245.voice"]).toEqual({});
    expect(c["org.matrix.msc1767.audio"].duration).toBe(3000);
    expect(c["org.matrix.msc1767.audio"].waveform).toHaveLength(64);
    expect(c["org.matrix.msc1767.audio"].waveform[10]).toBe(Math.round((30 / 100) * 1024));
    expect(c.info).toMatchObject({ duration: 3000, mimetype: "audio/ogg", size: back.length });
    expect((await download(c.url)).equals(back)).toBe(true);
  });

  it("stickers go as images", async () => {
    const sticker = randomFile(20_000);
    const url = await matrixUpload(alice, sticker, "image/webp", "sticker.webp");
    const before = bob.received.length;
    await alice.client.sendEvent(
      portal,
      "m.sticker" as never,
      {
        body: "a waving cat",
        url,
        info: { mimetype: "image/webp", size: sticker.length, w: 256, h: 256 },
      } as never,
    );
    const received = await bob.waitFor((m) => bob.received.indexOf(m) >= before, "the sticker");
    const image = mediaOf(received);
    expect(image).toMatchObject({ kind: "image", width: 256, height: 256 });
    expect(image.caption).toBeUndefined();
    expect((await nativeFetch(bob, image)).equals(sticker)).toBe(true);
  });

  it("removes a hosted blob once the gatekeeper fetched it", async () => {
    const data = randomFile(50_000);
    const url = await matrixUpload(alice, data, "application/octet-stream", "once.bin");
    const received = await aliceSends({
      msgtype: "m.file",
      body: "once.bin",
      url,
      info: { mimetype: "application/octet-stream", size: data.length },
    });
    const file = mediaOf(received);
    const token = file.media.url.split("/").pop()!;
    expect(existsSync(`${w.hostedDir}/${token}`)).toBe(true);
    expect((await nativeFetch(bob, file)).equals(data)).toBe(true);
    // Gone from disk and from the URL: a second fetch finds nothing.
    await eventually(() => !existsSync(`${w.hostedDir}/${token}`));
    expect((await fetch(file.media.url)).status).toBe(404);
    await expect(nativeFetch(bob, file)).rejects.toThrow();
  });

  it("refuses a file over the limit with a notice and sends nothing", async () => {
    const big = randomFile(2 * MB + 1);
    const url = await matrixUpload(alice, big, "application/zip", "big.zip");
    const before = bob.received.length;
    const eventId = await alice.send(portal, {
      msgtype: "m.file",
      body: "big.zip",
      url,
      info: { mimetype: "application/zip", size: big.length },
    });
    const notice = await alice.noticeAfter(portal, eventId);
    expect(String(notice.getContent().body)).toMatch(
      /not delivered: .*larger than this bridge relays for files \(2 MB\)/,
    );
    await eventually(async () =>
      (await alice.history(portal)).some(
        (e) =>
          e.type === SEND_STATUS &&
          e.content?.["m.relates_to"]?.event_id === eventId &&
          e.content.status === "FAIL_PERMANENT",
      ),
    );
    // The same file without a stated size: found out while streaming, still nothing sent.
    const quiet = await alice.send(portal, { msgtype: "m.file", body: "big-again.zip", url });
    const second = await alice.noticeAfter(portal, quiet);
    expect(String(second.getContent().body)).toMatch(/larger than this bridge relays for files/);
    // A text after both arrives first and alone: nothing of the big file went out.
    await alice.say(portal, "after the big ones");
    await bob.waitForText("after the big ones");
    expect(bob.received.slice(before).map(textOf)).toEqual(["after the big ones"]);
    expect(filesIn(w.hostedDir).filter((n) => n.endsWith(".part"))).toEqual([]);
  });

  it("tells about an incoming file over the limit instead of posting it", async () => {
    const big = randomFile(2 * MB + 100);
    await nativeSendMedia(bob, aliceJid, "document", big, {
      mimetype: "application/zip",
      options: { fileName: "huge.zip", caption: "all of it" },
    });
    const notice = await alice.waitForNotice(
      portal,
      (b) => b.includes("huge") || b.includes("all of it"),
    );
    expect(String(notice.getContent().body)).toMatch(
      /sent a file with the caption "all of it", but it could not be bridged: at 2 MB it is larger than this bridge relays for files \(2 MB\)\./,
    );
    expect(w.world.identity.isPuppet(notice.getSender() ?? "")).toBe(true);
  });

  it("tells about a corrupt blob (bad MAC) and posts no media event; the message is acked", async () => {
    const data = randomFile(10_000);
    await nativeSendMedia(bob, aliceJid, "image", data, {
      mimetype: "image/jpeg",
      options: { caption: "spoiled" },
      corrupt: true,
    });
    const notice = await alice.waitForNotice(portal, (b) => b.includes("spoiled"));
    expect(String(notice.getContent().body)).toMatch(/integrity check \(bad MAC\)/);
    const history = await alice.history(portal);
    expect(
      history.filter(
        (e) =>
          e.type === "m.room.message" &&
          e.content?.msgtype === "m.image" &&
          e.content.body === "spoiled",
      ),
    ).toEqual([]);
    // Acked (right after the notice): nothing for Alice's account stays queued at the gatekeeper.
    await eventually(async () => {
      const queues = await w.world.sandbox.admin.queues();
      return queues.filter((q) => q.recipient === aliceJid).every((q) => q.stanzas.length === 0);
    });
  });

  it("announces the limits", async () => {
    const mgmt = alice.client
      .getRooms()
      .find(
        (r) =>
          r.roomId !== portal && r.getJoinedMembers().some((m) => m.userId === w.world.botMxid),
      )!.roomId;
    const reply = await alice.command(mgmt, "limits");
    expect(reply).toContain("images up to 1 MB");
    expect(reply).toContain("files up to 2 MB");
    const help = await alice.command(mgmt, "help");
    expect(help).toMatch(
      /`limits`: the largest media the bridge relays \(images up to 1 MB, videos up to 2 MB/,
    );
  });
});
