/** §11 Media: media_conn, the gatekeeper media host, the media proxy. */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enlistedPartner, loginNative, newNative } from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import { type Wire, is } from "./wire.js";
import { child, el, message } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget({ mediaMaxBytes: 64 * 1024 });
});
afterAll(() => t.close());

interface Conn {
  auth: string;
  host: string;
  ttl: string;
}

async function mediaConn(wire: Wire): Promise<Conn> {
  const r = await wire.iq("w:m", "set", "<media_conn/>");
  const c = child(r, "media_conn");
  return {
    auth: c?.attrs.auth ?? "",
    host: (c?.attrs.host ?? "").replace(/\/+$/, ""),
    ttl: c?.attrs.ttl ?? "",
  };
}

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("base64url");

function upload(conn: Conn, blob: Buffer, hash = sha(blob)): Promise<Response> {
  return fetch(`${conn.host}/media/upload`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${conn.auth}`,
      "x-enc-sha256": hash,
      "content-type": "application/octet-stream",
    },
    body: blob,
  });
}

function proxy(conn: Conn, url: string, hash: string): Promise<Response> {
  return fetch(`${conn.host}/media/proxy?url=${encodeURIComponent(url)}&enc_sha256=${hash}`, {
    headers: { authorization: `Bearer ${conn.auth}` },
  });
}

/** A native user who exchanged a message with an enlisted partner user. */
async function conversation(): Promise<{ nw: Wire; pw: Wire }> {
  const native = await newNative(t, { optIn: [t.partner?.id ?? ""] });
  const nw = await loginNative(t, native);
  const { wire: pw } = await enlistedPartner(t);
  const m = message(native.jid);
  pw.send(m.xml);
  nw.ack(await nw.next(is("message", { id: m.id })));
  return { nw, pw };
}

describe("§11.2 Media connection", () => {
  it("§11.2 <media_conn/> is answered <media_conn auth ttl host/>", async (ctx) => {
    need(ctx, "admin");
    const wire = await loginNative(t, await newNative(t));
    const c = await mediaConn(wire);
    expect(c.auth).not.toBe("");
    expect(Number(c.ttl)).toBeGreaterThan(0);
    expect(() => new URL(c.host)).not.toThrow();
    wire.close();
  });
});

describe("§11.3 Gatekeeper media host", () => {
  it("§11.3 a native upload with the bearer token and X-Enc-Sha256 is 201 {url, direct_path}; GET host+direct_path returns the blob", async (ctx) => {
    need(ctx, "admin");
    const wire = await loginNative(t, await newNative(t));
    const c = await mediaConn(wire);
    const blob = randomBytes(5000);
    const res = await upload(c, blob);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { url: string; direct_path: string };
    expect(body.url).toBe(`${c.host}${body.direct_path}`);
    const got = await fetch(`${c.host}${body.direct_path}`, {
      headers: { authorization: `Bearer ${c.auth}` },
    });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(blob)).toBe(true);
    wire.close();
  });

  it("§11.3 uploads are for native users only: a partner user's upload is refused", async (ctx) => {
    need(ctx, "admin", "partner");
    const { wire } = await enlistedPartner(t);
    const res = await upload(await mediaConn(wire), randomBytes(100));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    wire.close();
  });

  it("§11.3 an upload over the cap is 413", async (ctx) => {
    need(ctx, "admin", "tunable");
    const wire = await loginNative(t, await newNative(t));
    const res = await upload(await mediaConn(wire), randomBytes(t.limits.mediaMaxBytes + 1));
    expect(res.status).toBe(413);
    wire.close();
  });
});

describe("§11.4 Media proxy", () => {
  it("§11.4 a native user with a conversation with the partner's user gets the blob through the proxy", async (ctx) => {
    need(ctx, "admin", "ownPartner");
    const { nw, pw } = await conversation();
    const blob = randomBytes(3000);
    const url = t.partner?.server.host(blob) ?? "";
    const res = await proxy(await mediaConn(nw), url, sha(blob));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(blob)).toBe(true);
    nw.close();
    pw.close();
  });

  it("§11.4 a native user who shares a group with the partner's user (no conversation) gets the blob through the proxy", async (ctx) => {
    need(ctx, "admin", "ownPartner");
    const native = await newNative(t, { optIn: [t.partner?.id ?? ""] });
    const nw = await loginNative(t, native, { groups: true });
    const { wire: pw } = await enlistedPartner(t, { groups: true });
    const blob = randomBytes(1000);
    const url = t.partner?.server.host(blob) ?? "";
    expect((await proxy(await mediaConn(nw), url, sha(blob))).status).toBe(403);
    const created = await pw.iq(
      "w:g2",
      "set",
      el("create", { subject: "Media" }, [el("participant", { jid: native.jid })]),
    );
    expect(created.attrs.type).toBe("result");
    const res = await proxy(await mediaConn(nw), url, sha(blob));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(blob)).toBe(true);
    nw.close();
    pw.close();
  });

  it("§11.4 without a conversation with one of that partner's users the proxy answers 403", async (ctx) => {
    need(ctx, "admin", "ownPartner");
    const nw = await loginNative(t, await newNative(t, { optIn: "*" }));
    const blob = randomBytes(100);
    const res = await proxy(await mediaConn(nw), t.partner?.server.host(blob) ?? "", sha(blob));
    expect(res.status).toBe(403);
    nw.close();
  });

  it("§11.4 a URL outside every registered partner media origin is 403", async (ctx) => {
    need(ctx, "admin", "ownPartner");
    const { nw, pw } = await conversation();
    const res = await proxy(
      await mediaConn(nw),
      "http://127.0.0.1:9/_gki/v1/media/abc",
      sha(Buffer.from("x")),
    );
    expect(res.status).toBe(403);
    nw.close();
    pw.close();
  });

  it("§11.4 a blob whose SHA-256 does not match is 502 and nothing is passed on", async (ctx) => {
    need(ctx, "admin", "ownPartner");
    const { nw, pw } = await conversation();
    const blob = randomBytes(2000);
    const res = await proxy(
      await mediaConn(nw),
      t.partner?.server.host(blob) ?? "",
      sha(randomBytes(10)),
    );
    expect(res.status).toBe(502);
    expect(Buffer.from(await res.arrayBuffer()).includes(blob.subarray(0, 64))).toBe(false);
    nw.close();
    pw.close();
  });

  it("§11.4 a blob over the size cap is 413", async (ctx) => {
    need(ctx, "admin", "ownPartner", "tunable");
    const { nw, pw } = await conversation();
    const blob = randomBytes(t.limits.mediaMaxBytes + 1);
    const res = await proxy(await mediaConn(nw), t.partner?.server.host(blob) ?? "", sha(blob));
    expect(res.status).toBe(413);
    nw.close();
    pw.close();
  });
});
