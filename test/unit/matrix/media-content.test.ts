import { describe, expect, it } from "vitest";
import type { MediaMessageContent } from "../../../src/core/media.js";
import { unboundSource } from "../../../src/core/media.js";
import { classifyEvent } from "../../../src/matrix/event-classifier.js";
import type { ClassifyContext } from "../../../src/matrix/event-classifier.js";
import { markupToMatrix, matrixToMarkup } from "../../../src/matrix/formatting/index.js";
import {
  AUDIO_KEY,
  VOICE_KEY,
  fileNameFor,
  mediaEventContent,
  mediaFromEvent,
} from "../../../src/matrix/media-content.js";

const ctx: ClassifyContext = {
  botMxid: "@bot:example.org",
  isBridgeUser: (u) => u.startsWith("@gk_"),
  toMarkup: matrixToMarkup,
};

function event(type: string, content: Record<string, unknown>): Record<string, unknown> {
  return {
    type,
    room_id: "!room:example.org",
    event_id: "$e1",
    sender: "@alice:example.org",
    origin_server_ts: 1_700_000_000_000,
    content,
  };
}

function bridged(type: string, content: Record<string, unknown>) {
  const action = classifyEvent(event(type, content), ctx);
  if (action.kind !== "message") throw new Error(`not a message: ${action.kind}`);
  return action.message;
}

describe("Matrix media events → media content", () => {
  it("reads an image with a caption (MSC2530: filename set and different from body)", () => {
    const m = bridged("m.room.message", {
      msgtype: "m.image",
      body: "the view",
      format: "org.matrix.custom.html",
      formatted_body: "the <strong>view</strong>",
      filename: "IMG_1.jpg",
      url: "mxc://example.org/abc",
      info: { mimetype: "image/jpeg", size: 1234, w: 800, h: 600 },
    });
    expect(m.body).toBe(""); // never parsed as a command
    const c = m.content as MediaMessageContent;
    expect(c).toMatchObject({
      kind: "image",
      caption: "the *view*",
      name: "IMG_1.jpg",
      width: 800,
      height: 600,
    });
    expect({ uri: c.media.uri, mimetype: c.media.mimetype, size: c.media.size }).toEqual({
      uri: "mxc://example.org/abc",
      mimetype: "image/jpeg",
      size: 1234,
    });
  });

  it("takes the body as the file name when there is no separate filename", () => {
    const c = bridged("m.room.message", {
      msgtype: "m.file",
      body: "report.pdf",
      url: "mxc://example.org/f",
    }).content as MediaMessageContent;
    expect(c.kind).toBe("file");
    expect(c.name).toBe("report.pdf");
    expect(c.caption).toBeUndefined();
    expect(c.media.mimetype).toBe("application/octet-stream");
    expect(c.media.size).toBeUndefined();
  });

  it("reads an MSC3245 voice message with its duration and MSC3246 waveform", () => {
    const c = bridged("m.room.message", {
      msgtype: "m.audio",
      body: "Voice message",
      url: "mxc://example.org/v",
      info: { mimetype: "audio/ogg", size: 5000 },
      [AUDIO_KEY]: { duration: 2500, waveform: [0, 512, 1024, 2048] },
      [VOICE_KEY]: {},
    }).content as MediaMessageContent;
    expect(c).toMatchObject({ kind: "audio", voice: true, durationMs: 2500 });
    expect(c.waveform).toEqual([0, 0.5, 1, 1]);
  });

  it("keeps the reply target and the thumbnail reference", () => {
    const c = bridged("m.room.message", {
      msgtype: "m.video",
      body: "clip.mp4",
      url: "mxc://example.org/vid",
      info: {
        mimetype: "video/mp4",
        duration: 9000,
        thumbnail_url: "mxc://example.org/thumb",
        thumbnail_info: { mimetype: "image/jpeg", size: 900 },
      },
      "m.relates_to": { "m.in_reply_to": { event_id: "$earlier" } },
    }).content as MediaMessageContent;
    expect(c).toMatchObject({ kind: "video", durationMs: 9000, replyTo: "$earlier" });
    expect(c.thumbnail?.uri).toBe("mxc://example.org/thumb");
    expect(c.thumbnail?.size).toBe(900);
  });

  it("takes a sticker as an image without a caption", () => {
    const c = bridged("m.sticker", {
      body: "a waving cat",
      url: "mxc://example.org/s",
      info: { mimetype: "image/webp", w: 256, h: 256 },
    }).content as MediaMessageContent;
    expect(c).toMatchObject({ kind: "image", width: 256, height: 256 });
    expect(c.caption).toBeUndefined();
  });

  it("reports an encrypted attachment (no plain mxc URL) as unsupported", () => {
    const content = bridged("m.room.message", {
      msgtype: "m.image",
      body: "secret.png",
      file: { url: "mxc://example.org/enc", key: {}, iv: "", hashes: {} },
    }).content;
    expect(content).toEqual({ kind: "unsupported", description: "an image" });
  });

  it("refuses a URL that is not an mxc URI", () => {
    expect(
      mediaFromEvent(
        "image",
        { url: "https://evil.example/x.png", body: "x" },
        {
          isReply: false,
          toMarkup: matrixToMarkup,
        },
      ),
    ).toBeUndefined();
  });
});

describe("media content → Matrix media events", () => {
  const base = (over: Partial<MediaMessageContent>): MediaMessageContent => ({
    kind: "image",
    media: unboundSource({ uri: "remote", mimetype: "image/jpeg", size: 10 }),
    ...over,
  });

  it("writes a caption as body (and formatted_body) with the file name in filename", () => {
    const c = mediaEventContent(
      base({ caption: "look *here*", width: 4, height: 3 }),
      { url: "mxc://hs/1", size: 11 },
      markupToMatrix,
    );
    expect(c).toMatchObject({
      msgtype: "m.image",
      body: "look *here*",
      format: "org.matrix.custom.html",
      formatted_body: "look <strong>here</strong>",
      filename: "image.jpg",
      url: "mxc://hs/1",
      info: { mimetype: "image/jpeg", size: 11, w: 4, h: 3 },
    });
  });

  it("without a caption, body is the file name", () => {
    const c = mediaEventContent(
      base({
        kind: "file",
        name: "notes.txt",
        media: unboundSource({ uri: "r", mimetype: "text/plain" }),
      }),
      { url: "mxc://hs/2" },
      markupToMatrix,
    );
    expect(c).toMatchObject({ msgtype: "m.file", body: "notes.txt", filename: "notes.txt" });
    expect(c.format).toBeUndefined();
  });

  it("writes a voice note as an MSC3245 voice message Element shows as one", () => {
    const c = mediaEventContent(
      base({
        kind: "audio",
        voice: true,
        durationMs: 3000,
        waveform: [0, 0.25, 1],
        media: unboundSource({ uri: "r", mimetype: "audio/ogg; codecs=opus", size: 99 }),
      }),
      { url: "mxc://hs/3", size: 99 },
      markupToMatrix,
    );
    expect(c).toEqual({
      msgtype: "m.audio",
      body: "Voice message",
      url: "mxc://hs/3",
      info: { mimetype: "audio/ogg", size: 99, duration: 3000 },
      [AUDIO_KEY]: { duration: 3000, waveform: [0, 256, 1024] },
      [VOICE_KEY]: {},
    });
  });

  it("points at the uploaded preview and marks a gatekeeper GIF as a looping animation", () => {
    const c = mediaEventContent(
      base({ kind: "video", gif: true, media: unboundSource({ uri: "r", mimetype: "video/mp4" }) }),
      { url: "mxc://hs/4", thumbnail: { url: "mxc://hs/5", mimetype: "image/jpeg", size: 7 } },
      markupToMatrix,
    );
    expect(c.info).toMatchObject({
      thumbnail_url: "mxc://hs/5",
      thumbnail_info: { mimetype: "image/jpeg", size: 7 },
      "fi.mau.gif": true,
      "fi.mau.loop": true,
    });
  });

  it("names files by kind and type when the sender gave no name", () => {
    expect(fileNameFor(base({}))).toBe("image.jpg");
    expect(
      fileNameFor(
        base({
          kind: "audio",
          voice: true,
          media: unboundSource({ uri: "r", mimetype: "audio/ogg" }),
        }),
      ),
    ).toBe("voice-message.ogg");
    expect(
      fileNameFor(base({ kind: "file", media: unboundSource({ uri: "r", mimetype: "x/y" }) })),
    ).toBe("file");
  });
});
