import { createHash, randomBytes } from "node:crypto";
import type { Server } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildGroupCreate,
  buildGroupLeave,
  buildMediaConnRequest,
  parseGroupCreateResult,
  parseMediaConnResult,
} from "../../../src/gatekeeper/stanza/index.js";
import type { Sandbox } from "../../../src/sandbox/index.js";
import {
  PARTNER_ID,
  PARTNER_SECRET,
  type PartnerAuthServer,
  closeServer,
  enlistedPartnerUser,
  fakeCiphertext,
  listen,
  messageId,
  optedInNativeUser,
  sandboxWithPartner,
  startPartnerAuth,
  urlOf,
} from "./helpers.js";
import type { RawClient } from "./raw-client.js";

const CAP = 4096;

function sha256url(blob: Uint8Array): string {
  return createHash("sha256").update(blob).digest("base64url");
}

async function mediaConn(client: RawClient) {
  const result = await client.iq("w:m", "set", buildMediaConnRequest());
  return parseMediaConnResult(result.children);
}

describe("sandbox media host and proxy (docs/protocol.md §11)", () => {
  let auth: PartnerAuthServer;
  let sandbox: Sandbox;
  let partner: RawClient;
  let alice: RawClient;
  let partnerMedia: Server;
  let foreign: Server;
  const blobs = new Map<string, Buffer>();

  beforeAll(async () => {
    auth = await startPartnerAuth();
    sandbox = await sandboxWithPartner(auth, { limits: { mediaMaxBytes: CAP } });
    const app = express();
    app.get("/_gki/v1/media/:token", (req, res) => {
      const blob = blobs.get(req.params.token);
      if (blob) res.type("application/octet-stream").send(blob);
      else res.status(404).end();
    });
    // The same blobs without Content-Length, so the proxy has to count while it reads.
    app.get("/_gki/v1/chunked/:token", (req, res) => {
      const blob = blobs.get(req.params.token) ?? Buffer.alloc(0);
      res.type("application/octet-stream");
      for (let i = 0; i < blob.length; i += 512) res.write(blob.subarray(i, i + 512));
      res.end();
    });
    partnerMedia = await listen(app);
    foreign = await listen(app);
    await sandbox.admin.addPartner({
      id: PARTNER_ID,
      authUrl: auth.url,
      secret: PARTNER_SECRET,
      mediaOrigin: urlOf(partnerMedia),
    });
    partner = await enlistedPartnerUser(sandbox, auth, "media-1", "+4915170000001");
    const a = await optedInNativeUser(sandbox, "+4917080000001", "Alice");
    alice = a.client;
    // A conversation between them: the proxy serves media of partners the user talks to.
    const m = {
      kind: "message",
      id: messageId(),
      to: a.user.jid,
      type: "media",
      enc: { v: 2, type: "pkmsg", ciphertext: fakeCiphertext() },
    } as const;
    partner.send(m);
    await partner.nextOf("ack", (x) => x.id === m.id);
  });
  afterAll(async () => {
    partner.close();
    alice.close();
    await sandbox.close();
    await auth.close();
    await closeServer(partnerMedia);
    await closeServer(foreign);
  });

  it("hands out media_conn with the sandbox's host", async () => {
    const conn = await mediaConn(alice);
    expect(conn.host).toBe(sandbox.httpUrl);
    expect(conn.ttl).toBe(300);
    expect(conn.auth.length).toBeGreaterThan(20);
  });

  it("lets a native user upload a blob that a partner then downloads", async () => {
    const blob = randomBytes(1000);
    const up = await mediaConn(alice);
    const res = await fetch(`${up.host}/media/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${up.auth}`, "x-enc-sha256": sha256url(blob) },
      body: blob,
    });
    expect(res.status).toBe(201);
    const { url, direct_path } = (await res.json()) as { url: string; direct_path: string };
    expect(url).toBe(`${sandbox.httpUrl}${direct_path}`);

    const down = await mediaConn(partner);
    const got = await fetch(`${down.host}${direct_path}`, {
      headers: { authorization: `Bearer ${down.auth}` },
    });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(blob)).toBe(true);
    expect((await fetch(`${down.host}${direct_path}`)).status).toBe(401);
  });

  it("refuses an upload whose hash does not match (400) or that is over the cap (413)", async () => {
    const up = await mediaConn(alice);
    const blob = randomBytes(100);
    const wrong = await fetch(`${up.host}/media/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${up.auth}`, "x-enc-sha256": sha256url(randomBytes(100)) },
      body: blob,
    });
    expect(wrong.status).toBe(400);
    const big = randomBytes(CAP + 1);
    const tooBig = await fetch(`${up.host}/media/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${up.auth}`, "x-enc-sha256": sha256url(big) },
      body: big,
    });
    expect(tooBig.status).toBe(413);
  });

  it("proxies a blob from the partner's media origin after checking its hash", async () => {
    const blob = randomBytes(2000);
    const token = randomBytes(16).toString("hex");
    blobs.set(token, blob);
    const { host, auth: bearer } = await mediaConn(alice);
    const proxied = (url: string, hash: string) =>
      fetch(`${host}/media/proxy?url=${encodeURIComponent(url)}&enc_sha256=${hash}`, {
        headers: { authorization: `Bearer ${bearer}` },
      });

    const ok = await proxied(`${urlOf(partnerMedia)}/_gki/v1/media/${token}`, sha256url(blob));
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(blob)).toBe(true);

    expect(
      (await proxied(`${urlOf(foreign)}/_gki/v1/media/${token}`, sha256url(blob))).status,
    ).toBe(403);
    expect(
      (await proxied(`${urlOf(partnerMedia)}/_gki/v1/media/${token}`, sha256url(randomBytes(8))))
        .status,
    ).toBe(502);

    const big = randomBytes(CAP + 10);
    const bigToken = randomBytes(16).toString("hex");
    blobs.set(bigToken, big);
    expect(
      (await proxied(`${urlOf(partnerMedia)}/_gki/v1/media/${bigToken}`, sha256url(big))).status,
    ).toBe(413);
    expect(
      (await proxied(`${urlOf(partnerMedia)}/_gki/v1/chunked/${bigToken}`, sha256url(big))).status,
    ).toBe(413);
    const chunked = await proxied(
      `${urlOf(partnerMedia)}/_gki/v1/chunked/${token}`,
      sha256url(blob),
    );
    expect(chunked.status).toBe(200);
    expect(Buffer.from(await chunked.arrayBuffer()).equals(blob)).toBe(true);
  });

  it("refuses the proxy to a user who never talked to the partner's users", async () => {
    const bob = await optedInNativeUser(sandbox, "+4917080000002", "Bob");
    const blob = randomBytes(10);
    const token = randomBytes(16).toString("hex");
    blobs.set(token, blob);
    const { host, auth: bearer } = await mediaConn(bob.client);
    const res = await fetch(
      `${host}/media/proxy?url=${encodeURIComponent(`${urlOf(partnerMedia)}/_gki/v1/media/${token}`)}&enc_sha256=${sha256url(blob)}`,
      { headers: { authorization: `Bearer ${bearer}` } },
    );
    expect(res.status).toBe(403);
    bob.client.close();
  });

  it("lets a user fetch the media of a partner user they share a group with, until they leave", async () => {
    const member = await enlistedPartnerUser(sandbox, auth, "media-2", "+4915170000002", {
      groups: true,
    });
    const carol = await optedInNativeUser(sandbox, "+4917080000003", "Carol", [PARTNER_ID], {
      groups: true,
    });
    const blob = randomBytes(500);
    const token = randomBytes(16).toString("hex");
    blobs.set(token, blob);
    const url = `${urlOf(partnerMedia)}/_gki/v1/media/${token}`;
    const proxied = async (): Promise<number> => {
      const { host, auth: bearer } = await mediaConn(carol.client);
      const res = await fetch(
        `${host}/media/proxy?url=${encodeURIComponent(url)}&enc_sha256=${sha256url(blob)}`,
        { headers: { authorization: `Bearer ${bearer}` } },
      );
      if (res.status === 200) expect(Buffer.from(await res.arrayBuffer()).equals(blob)).toBe(true);
      return res.status;
    };
    // No conversation and no group with the partner's users yet.
    expect(await proxied()).toBe(403);

    const created = await member.iq("w:g2", "set", buildGroupCreate("Media", [carol.user.jid]));
    expect(created.type).toBe("result");
    const { group, results } = parseGroupCreateResult(created.children);
    expect(results).toEqual([{ jid: carol.user.jid }]);
    // Every member fetches a group message's blob: the group opens the proxy, as a conversation does.
    expect(await proxied()).toBe(200);
    expect(await proxied()).toBe(200);

    const left = await carol.client.iq("w:g2", "set", buildGroupLeave([group.jid]));
    expect(left.type).toBe("result");
    expect(await proxied()).toBe(403);
    member.close();
    carol.client.close();
  });
});
