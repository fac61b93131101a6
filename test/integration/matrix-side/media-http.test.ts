/**
 * Downloads from homeservers of both generations: with authenticated media (spec v1.11,
 * `/_matrix/client/v1/media`) and without (Synapse 1.67 answers that path with
 * `400 M_UNRECOGNIZED`; others with 404). Each server here answers as those do.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { text } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { MediaUnavailableError } from "../../../src/core/media.js";
import { MatrixMediaHttp } from "../../../src/matrix/media-http.js";

const FILE = "the file's bytes";
let server: Server | undefined;

afterEach(async () => {
  server?.close();
  if (server) await once(server, "close");
  server = undefined;
});

/** A homeserver that serves FILE as mxc://localhost/abc; returns the paths it was asked. */
async function homeserver(
  answerV1: (res: ServerResponse) => void,
): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0]!;
    paths.push(path);
    if (path.startsWith("/_matrix/client/v1/media/")) return answerV1(res);
    if (path === "/_matrix/media/v3/download/localhost/abc") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": FILE.length });
      return res.end(FILE);
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ errcode: "M_NOT_FOUND", error: "Not found" }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

const json = (status: number, body: unknown) => (res: ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("MatrixMediaHttp downloads", () => {
  it.each([
    ["400 M_UNRECOGNIZED (Synapse 1.67)", json(400, { errcode: "M_UNRECOGNIZED" })],
    ["404 M_UNRECOGNIZED", json(404, { errcode: "M_UNRECOGNIZED" })],
    ["a bare 404", (res: ServerResponse) => void res.writeHead(404).end("Not Found")],
  ])("fall back to the legacy path on %s, and remember it", async (_, answerV1) => {
    const hs = await homeserver(answerV1);
    const media = new MatrixMediaHttp({ homeserverUrl: hs.url, asToken: "as" });
    for (let i = 0; i < 2; i++) {
      const opened = await media.download("mxc://localhost/abc");
      expect(await text(opened.stream)).toBe(FILE);
    }
    expect(hs.paths).toEqual([
      "/_matrix/client/v1/media/download/localhost/abc",
      "/_matrix/media/v3/download/localhost/abc",
      "/_matrix/media/v3/download/localhost/abc",
    ]);
  });

  it("treat a v1 404 M_NOT_FOUND as a missing file, not as an old server", async () => {
    const hs = await homeserver(json(404, { errcode: "M_NOT_FOUND", error: "Not found" }));
    const media = new MatrixMediaHttp({ homeserverUrl: hs.url, asToken: "as" });
    const err = await media.download("mxc://localhost/abc").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaUnavailableError);
    expect(err).toMatchObject({ failure: "not-found" });
    expect(hs.paths).toEqual(["/_matrix/client/v1/media/download/localhost/abc"]);
  });
});
