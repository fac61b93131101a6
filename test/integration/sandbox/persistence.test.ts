import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSandbox } from "../../../src/sandbox/index.js";
import { RawClient } from "../../e2e/sandbox/raw-client.js";
import { TestKeys, fakeCiphertext, messageId } from "../../e2e/sandbox/helpers.js";
import {
  buildBundleRequest,
  isBundleError,
  parseBundleResult,
} from "../../../src/gatekeeper/stanza/index.js";

describe("sandbox on a SQLite file", () => {
  let dir: string;
  let filename: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gk-sandbox-"));
    filename = join(dir, "sandbox.sqlite");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps its static key, users, keys and queued messages across a restart", async () => {
    const first = await startSandbox({ db: { type: "sqlite", filename } });
    const alice = await first.admin.addUser({ phone: "+4917090000001", name: "Alice" });
    const bob = await first.admin.addUser({ phone: "+4917090000002", name: "Bob" });
    const { client: a } = await RawClient.native(first, alice);
    await a.nextOf("ib");
    const keys = new TestKeys();
    expect((await a.iq("encrypt", "set", keys.upload({ preKeys: 5 }))).type).toBe("result");
    const ciphertext = fakeCiphertext();
    const id = messageId();
    a.send({
      kind: "message",
      id,
      to: bob.jid,
      type: "text",
      enc: { v: 2, type: "pkmsg", ciphertext },
    });
    expect((await a.nextOf("ack", (x) => x.id === id)).error).toBeUndefined();
    const publicKey = first.publicKeyBase64;
    await first.close();
    expect(await a.closed).toMatchObject({ code: 1000 });
    expect(a.received.find((s) => s.kind === "stream-error")).toEqual({
      kind: "stream-error",
      code: 503,
      text: "shutting-down",
    });

    const second = await startSandbox({ db: { type: "sqlite", filename } });
    try {
      expect(second.publicKeyBase64).toBe(publicKey);
      const { client: b } = await RawClient.native(second, bob);
      const got = await b.nextOf("message");
      expect(got).toMatchObject({ id, from: alice.jid, offline: true, enc: { ciphertext } });
      expect(await b.nextOf("ib")).toEqual({ kind: "ib", offlineCount: 1 });
      const [bundle] = parseBundleResult(
        (await b.iq("encrypt", "get", buildBundleRequest([alice.jid]))).children,
      );
      expect(
        bundle &&
          !isBundleError(bundle) &&
          Buffer.from(bundle.identityKey).equals(Buffer.from(keys.identity.publicKey.serialize())),
      ).toBe(true);
      b.close();
    } finally {
      await second.close();
    }
  });

  it("keeps uploaded media next to the database file", async () => {
    const sandbox = await startSandbox({ db: { type: "sqlite", filename } });
    try {
      const alice = await sandbox.admin.addUser({ phone: "+4917090000003", name: "Alice" });
      const { client } = await RawClient.native(sandbox, alice);
      const conn = await client.iq("w:m", "set", [{ tag: "media_conn", attrs: {}, children: [] }]);
      const auth = conn.children[0]?.attrs.auth ?? "";
      const blob = Buffer.from(fakeCiphertext(300));
      const { createHash } = await import("node:crypto");
      const res = await fetch(`${sandbox.httpUrl}/media/upload`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${auth}`,
          "x-enc-sha256": createHash("sha256").update(blob).digest("base64url"),
        },
        body: blob,
      });
      expect(res.status).toBe(201);
      const { direct_path } = (await res.json()) as { direct_path: string };
      const stored = await stat(join(`${filename}.media`, direct_path.split("/").at(-1) ?? ""));
      expect(stored.size).toBe(300);
      client.close();
    } finally {
      await sandbox.close();
    }
  });
});
