import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { decodeOutboxPayload, encodeOutboxPayload } from "../../../src/core/outbox-payload.js";
import {
  MediaLimitError,
  describeLimits,
  formatBytes,
  limitedSource,
  unboundSource,
} from "../../../src/core/media.js";
import type { MediaMessageContent, MediaSource } from "../../../src/core/media.js";
import { MediaRelay } from "../../../src/core/media-relay.js";
import { MediaUnavailableError } from "../../../src/core/media.js";
import type { BridgeContent } from "../../../src/core/content.js";
import { GATEKEEPER_CAPABILITIES } from "../../../src/connector/index.js";
import { GATEKEEPER_MEDIA_CAPABILITIES } from "../../../src/connector/index.js";
import { outgoingMimetype, toGatekeeperWaveform } from "../../../src/connector/media-outgoing.js";
import { fromGatekeeperWaveform } from "../../../src/connector/media-incoming.js";

/** A source over bytes in memory; `stated` is what the sender claims (may lie). */
function memory(data: Buffer, stated?: number, opens = { count: 0 }): MediaSource {
  return {
    uri: "memory:",
    mimetype: "application/octet-stream",
    ...(stated === undefined ? {} : { size: stated }),
    open: async () => {
      opens.count += 1;
      return { stream: Readable.from([data.subarray(0, 1000), data.subarray(1000)]) };
    },
  };
}

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

const MB = 1024 * 1024;
const configured = { image: 1 * MB, video: 2 * MB, audio: 1 * MB, file: 200 * MB };

describe("sizes and limits", () => {
  it("formats sizes as people read them", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(2 * MB)).toBe("2 MB");
    expect(formatBytes(2 * MB + 100)).toBe("2 MB");
    expect(formatBytes(16 * MB)).toBe("16 MB");
    expect(formatBytes(1.25 * 1024 * MB)).toBe("1.3 GB");
  });

  it("caps the configured limits by what the network carries", () => {
    const relay = new MediaRelay({
      configured,
      network: {
        capabilities: { ...GATEKEEPER_CAPABILITIES, media: GATEKEEPER_MEDIA_CAPABILITIES },
      },
      matrix: { downloadMedia: async () => ({ stream: Readable.from([]) }) },
    });
    expect(relay.enabled).toBe(true);
    expect(relay.limits.file).toBe(GATEKEEPER_MEDIA_CAPABILITIES.maxBytes);
    expect(relay.limits.image).toBe(1 * MB);
    expect(describeLimits(relay.limits)).toBe(
      "images up to 1 MB, videos up to 2 MB, audio and voice messages up to 1 MB, files up to 100 MB",
    );
  });

  it("relays no media when the network has none", () => {
    const relay = new MediaRelay({
      configured,
      network: { capabilities: GATEKEEPER_CAPABILITIES },
      matrix: { downloadMedia: async () => ({ stream: Readable.from([]) }) },
    });
    expect(relay.enabled).toBe(false);
    const content: MediaMessageContent = {
      kind: "image",
      media: unboundSource({ uri: "mxc://a/b", mimetype: "image/png" }),
    };
    expect(relay.refusal(content)).toBe("images cannot be sent to Gatekeeper through this bridge");
  });
});

describe("limitedSource", () => {
  it("passes what is within the limit unchanged", async () => {
    const data = Buffer.alloc(5000, 7);
    const opened = await limitedSource(memory(data), "file", 5000).open();
    expect((await read(opened.stream)).equals(data)).toBe(true);
  });

  it("refuses at once when the stated size is over, without opening the source", async () => {
    const opens = { count: 0 };
    const source = limitedSource(memory(Buffer.alloc(10), 6000, opens), "image", 5000);
    await expect(source.open()).rejects.toBeInstanceOf(MediaLimitError);
    expect(opens.count).toBe(0);
  });

  it("fails the stream once more than the limit went by when the stated size lied", async () => {
    const opened = await limitedSource(memory(Buffer.alloc(6000), 10), "video", 5000).open();
    const err = await read(opened.stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaLimitError);
    expect((err as MediaLimitError).userMessage).toBe(
      "it is larger than this bridge relays for videos (4.9 KB)",
    );
  });
});

describe("remote media into Matrix (MediaRelay.post)", () => {
  const relay = new MediaRelay({
    configured,
    network: { capabilities: { ...GATEKEEPER_CAPABILITIES, media: GATEKEEPER_MEDIA_CAPABILITIES } },
    matrix: {},
  });

  it("posts a notice instead of a file over the limit, with what it was", async () => {
    const posted: BridgeContent[] = [];
    await relay.post(
      {
        kind: "video",
        media: memory(Buffer.alloc(10), 3 * MB),
        caption: "the party",
        replyTo: "$r",
      },
      async (c) => {
        posted.push(c);
        return "$event";
      },
    );
    expect(posted).toEqual([
      {
        kind: "unsupported",
        description:
          'sent a video with the caption "the party", but it could not be bridged: at 3 MB it is larger than this bridge relays for videos (2 MB).',
        replyTo: "$r",
      },
    ]);
  });

  it("posts a notice when the file cannot be had for good, and retries what may pass", async () => {
    const corrupt = new MediaUnavailableError(
      "corrupt",
      "the file failed its integrity check (bad MAC)",
    );
    const posted: BridgeContent[] = [];
    const content: MediaMessageContent = { kind: "image", media: memory(Buffer.alloc(10)) };
    await relay.post(content, async (c) => {
      if (c.kind === "image") throw corrupt;
      posted.push(c);
      return "$notice";
    });
    expect(posted).toEqual([
      {
        kind: "unsupported",
        description:
          "sent an image, but it could not be bridged: the file failed its integrity check (bad MAC).",
      },
    ]);
    const down = new MediaUnavailableError(
      "unavailable",
      "Gatekeeper's media server could not be reached",
    );
    await expect(
      relay.post(content, async () => {
        throw down;
      }),
    ).rejects.toBe(down);
  });
});

describe("media in the outbox", () => {
  it("keeps the references and details, not the open functions", () => {
    const content: MediaMessageContent = {
      kind: "audio",
      media: unboundSource({ uri: "mxc://hs/voice", mimetype: "audio/ogg", size: 321 }),
      voice: true,
      durationMs: 4200,
      waveform: [0, 0.5, 1],
      name: "Voice message",
      replyTo: "3EB0AAAAAAAAAAAAAAAA",
    };
    const back = decodeOutboxPayload(encodeOutboxPayload(content)) as MediaMessageContent;
    expect({ ...back, media: { ...back.media, open: undefined } }).toEqual({
      ...content,
      media: { uri: "mxc://hs/voice", mimetype: "audio/ogg", size: 321, open: undefined },
    });
  });
});

describe("GKI/1 media details", () => {
  it("resamples a waveform to the gatekeeper's 64 samples of 0..100 and back to 0..1", () => {
    const wave = toGatekeeperWaveform(Array.from({ length: 128 }, (_, i) => (i < 64 ? 0 : 1)));
    expect(wave).toHaveLength(64);
    expect([...wave.subarray(0, 32)].every((v) => v === 0)).toBe(true);
    expect([...wave.subarray(32)].every((v) => v === 100)).toBe(true);
    expect(toGatekeeperWaveform([0.5])).toEqual(new Uint8Array(64).fill(50));
    expect(fromGatekeeperWaveform(new Uint8Array([0, 50, 100, 250]))).toEqual([0, 0.5, 1, 1]);
  });

  it("sends a Matrix voice message as Opus in Ogg, and other audio as it is", () => {
    const voice = (mimetype: string, v: boolean): MediaMessageContent => ({
      kind: "audio",
      voice: v,
      media: unboundSource({ uri: "x", mimetype }),
    });
    expect(outgoingMimetype(voice("audio/ogg", true))).toBe("audio/ogg; codecs=opus");
    expect(outgoingMimetype(voice("audio/ogg", false))).toBe("audio/ogg");
    expect(outgoingMimetype(voice("audio/mp4", true))).toBe("audio/mp4");
  });
});
