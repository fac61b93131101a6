import { describe, expect, it } from "vitest";
import {
  GatekeeperError,
  iqError,
  isTerminalLoginError,
  loginFailureError,
  nackError,
} from "../../../src/gatekeeper/client/errors.js";
import {
  MAX_MEDIA_BYTES,
  MediaTransfer,
  downloadUrl,
} from "../../../src/gatekeeper/client/media-http.js";
import { mediaTypeOf } from "../../../src/gatekeeper/client/outbound.js";
import { mediaMessage, textMessage } from "../../../src/gatekeeper/content/index.js";

describe("error mapping", () => {
  it("maps login failures (docs §4.3); only 503 is worth a retry", () => {
    const codes = [401, 402, 403, 405, 503].map((r) => loginFailureError(r, undefined));
    expect(codes.map((e) => e.code)).toEqual([
      "unauthorized",
      "partner-unknown",
      "forbidden",
      "unsupported",
      "unavailable",
    ]);
    expect(codes.map(isTerminalLoginError)).toEqual([true, true, true, true, false]);
    expect(codes.every((e) => e instanceof GatekeeperError && e.gkiCode !== undefined)).toBe(true);
  });

  it("maps negative acks and iq errors, keeping the numeric code and retry-after", () => {
    expect(nackError("message", 404, undefined)).toMatchObject({
      code: "unreachable",
      gkiCode: 404,
    });
    expect(nackError("message", 429, "messages")).toMatchObject({
      code: "rate-limited",
      message: expect.stringContaining("messages"),
    });
    expect(nackError("message", 999, undefined).code).toBe("protocol-error");
    expect(iqError("usync", 429, undefined, 3600)).toMatchObject({
      code: "rate-limited",
      retryAfter: 3600,
    });
    expect(iqError("enlist", 410, "expired", undefined)).toMatchObject({
      code: "gone",
      gkiCode: 410,
    });
  });
});

describe("media locations (docs §11.3, §11.4)", () => {
  const host = "https://media.gk.example";
  const sha = new Uint8Array(32).fill(255);

  it("fetches direct paths and the host's own URLs directly", () => {
    expect(downloadUrl(host, "/media/d/abc", undefined)).toBe(
      "https://media.gk.example/media/d/abc",
    );
    expect(downloadUrl(`${host}/`, "https://media.gk.example/media/d/abc", undefined)).toBe(
      "https://media.gk.example/media/d/abc",
    );
  });

  it("sends partner-hosted URLs through the proxy with the blob hash", () => {
    const target = new URL(downloadUrl(host, "https://bridge.example/_gki/v1/media/T0K?x=1", sha));
    expect(target.origin + target.pathname).toBe("https://media.gk.example/media/proxy");
    expect(target.searchParams.get("url")).toBe("https://bridge.example/_gki/v1/media/T0K?x=1");
    expect(target.searchParams.get("enc_sha256")).toBe(Buffer.from(sha).toString("base64url"));
    expect(() => downloadUrl(host, "https://bridge.example/m/1", undefined)).toThrow(
      GatekeeperError,
    );
    expect(() => downloadUrl(host, "not a url", sha)).toThrow(/neither a path nor a URL/);
  });

  it("refuses to upload a blob over the gatekeeper's cap before asking for a media connection", async () => {
    let asked = false;
    const transfer = new MediaTransfer(async () => {
      asked = true;
      throw new Error("no media connection in this test");
    });
    await expect(transfer.upload(new Uint8Array(MAX_MEDIA_BYTES + 1))).rejects.toMatchObject({
      code: "too-large",
    });
    expect(asked).toBe(false);
  });

  it("derives the enc mediatype hint from the content", () => {
    const ref = {
      url: "u",
      mediaKey: new Uint8Array(32),
      fileSha256: new Uint8Array(32),
      fileEncSha256: new Uint8Array(32),
      fileLength: 1,
      mimetype: "x/y",
    };
    expect(mediaTypeOf(textMessage("hi"))).toBeUndefined();
    expect(mediaTypeOf(mediaMessage("image", ref))).toBe("image");
    expect(mediaTypeOf(mediaMessage("audio", ref, { ptt: true }))).toBe("ptt");
    expect(mediaTypeOf(mediaMessage("audio", ref))).toBe("audio");
    expect(mediaTypeOf(mediaMessage("document", ref))).toBe("document");
    expect(mediaTypeOf(mediaMessage("video", ref))).toBe("video");
  });
});
