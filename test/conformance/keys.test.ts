/** §7 Keys: prekey upload, count, refill, bundle fetch, identity change. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Keys,
  enlistedPartner,
  loginNative,
  newNative,
  prekeyCount,
  withKeys,
} from "./fixtures.js";
import { type Target, need, openTarget } from "./target.js";
import type { Wire } from "./wire.js";
import { type XmlNode, child, el, iqError } from "./xml.js";

let t: Target;
beforeAll(async () => {
  t = await openTarget();
});
afterAll(() => t.close());

async function native(): Promise<{ jid: string; wire: Wire }> {
  const user = await newNative(t);
  return { jid: user.jid, wire: await loginNative(t, user) };
}

async function fetchBundles(wire: Wire, jids: string[]): Promise<XmlNode> {
  return wire.iq(
    "encrypt",
    "get",
    el(
      "key",
      {},
      jids.map((jid) => el("user", { jid })),
    ),
  );
}

function userIn(result: XmlNode, jid: string): XmlNode | undefined {
  return child(result, "list")?.children.find((u) => u.attrs.jid === jid);
}

describe("§7.1 Upload", () => {
  it("§7.1 a first upload with registration, identity, device, list, skey and kkey is accepted", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    const r = await wire.iq("encrypt", "set", new Keys().full(20));
    expect(r.attrs.type).toBe("result");
    expect(await prekeyCount(wire)).toBe(20);
    wire.close();
  });

  it.for(["registration", "identity", "device", "skey", "kkey"])(
    '§7.1 a first upload without <%s> is iq error 400 text="incomplete-upload"',
    async (part, ctx) => {
      need(ctx, "admin");
      const { wire } = await native();
      const r = await wire.iq("encrypt", "set", new Keys().full(5, { omit: part }));
      expect(iqError(r)).toEqual({ code: "400", text: "incomplete-upload" });
      wire.close();
    },
  );

  it("§7.1 a first upload without <list> (0 prekeys) is accepted", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    expect((await wire.iq("encrypt", "set", new Keys().full(0, { omit: "list" }))).attrs.type).toBe(
      "result",
    );
    wire.close();
  });

  it("§7.1 an upload with a new identity that is not complete is 400 incomplete-upload", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    const keys = await withKeys(wire, 5);
    keys.newIdentity();
    const r = await wire.iq("encrypt", "set", keys.identityEl() + keys.list(5));
    expect(iqError(r)).toEqual({ code: "400", text: "incomplete-upload" });
    wire.close();
  });

  it("§7.1 a later upload of just <list> refills: keys are added, the signed prekeys stay", async (ctx) => {
    need(ctx, "admin");
    const owner = await native();
    const keys = await withKeys(owner.wire, 3);
    const before = await fetchBundles((await native()).wire, [owner.jid]);
    expect((await owner.wire.iq("encrypt", "set", keys.list(7))).attrs.type).toBe("result");
    expect(await prekeyCount(owner.wire)).toBe(2 + 7);
    const after = await fetchBundles((await native()).wire, [owner.jid]);
    expect(child(userIn(after, owner.jid) ?? { tag: "", attrs: {}, children: [] }, "skey")).toEqual(
      child(userIn(before, owner.jid) ?? { tag: "", attrs: {}, children: [] }, "skey"),
    );
    owner.wire.close();
  });

  it("§7.1 a later upload of just <skey> replaces the signed prekey", async (ctx) => {
    need(ctx, "admin");
    const owner = await native();
    const keys = await withKeys(owner.wire, 3);
    expect((await owner.wire.iq("encrypt", "set", keys.skey({ id: 2 }))).attrs.type).toBe("result");
    const bundle = userIn(await fetchBundles((await native()).wire, [owner.jid]), owner.jid);
    expect(bundle && child(bundle, "skey")?.attrs.id).toBe("2");
    owner.wire.close();
  });

  it("§7.1 a signed prekey whose signature does not verify against the identity is iq error 406", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    expect(
      iqError(await wire.iq("encrypt", "set", new Keys().full(3, { badSkey: true }))).code,
    ).toBe("406");
    wire.close();
  });

  it("§7.1 a signed Kyber prekey whose signature does not verify is iq error 406", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    expect(
      iqError(await wire.iq("encrypt", "set", new Keys().full(3, { badKkey: true }))).code,
    ).toBe("406");
    wire.close();
  });

  it("§7.1 812 one-time prekeys in one upload are accepted", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    expect(
      (await wire.iq("encrypt", "set", new Keys().full(t.limits.prekeysPerUpload))).attrs.type,
    ).toBe("result");
    wire.close();
  });

  it("§7.1 more than 812 one-time prekeys in one upload are iq error 400", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    expect(
      iqError(await wire.iq("encrypt", "set", new Keys().full(t.limits.prekeysPerUpload + 1))).code,
    ).toBe("400");
    wire.close();
  });

  it("§7.1 a prekey id outside 1..16777215 is iq error 400", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    const keys = new Keys();
    const upload = keys.full(1).replace(/<key id="1">/, '<key id="16777216">');
    expect(iqError(await wire.iq("encrypt", "set", upload)).code).toBe("400");
    wire.close();
  });
});

describe("§7.2 Count and refill", () => {
  it("§7.2 <count/> is answered <count value=N/>", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    await withKeys(wire, 12);
    expect(await prekeyCount(wire)).toBe(12);
    wire.close();
  });
});

describe("§7.3 Fetch a bundle", () => {
  it("§7.3 a bundle carries registration, identity, device id 1, one prekey, skey and kkey", async (ctx) => {
    need(ctx, "admin");
    const owner = await native();
    const keys = await withKeys(owner.wire, 3);
    const user = userIn(await fetchBundles((await native()).wire, [owner.jid]), owner.jid);
    expect(user).toBeDefined();
    const u = user as XmlNode;
    expect(child(u, "registration")?.text).toBe(
      Buffer.from(keys.registration().replace(/<\/?registration>/g, ""), "base64").toString(
        "base64",
      ),
    );
    expect(child(u, "identity")?.text).toBe(
      Buffer.from(keys.identity.publicKey.serialize()).toString("base64"),
    );
    expect(child(u, "device")?.attrs.id).toBe("1");
    for (const part of ["key", "skey", "kkey"]) expect(child(u, part), part).toBeDefined();
    expect(child(u, "skey")?.attrs.signature).toBeTruthy();
    owner.wire.close();
  });

  it("§7.3 each fetch consumes one one-time prekey", async (ctx) => {
    need(ctx, "admin");
    const owner = await native();
    await withKeys(owner.wire, 15);
    const { wire } = await native();
    const a = child(userIn(await fetchBundles(wire, [owner.jid]), owner.jid) as XmlNode, "key");
    const b = child(userIn(await fetchBundles(wire, [owner.jid]), owner.jid) as XmlNode, "key");
    expect(a?.attrs.id).not.toBe(b?.attrs.id);
    expect(await prekeyCount(owner.wire)).toBe(13);
    owner.wire.close();
  });

  it("§7.3 a bundle has no <key> when the user has none left", async (ctx) => {
    need(ctx, "admin");
    const owner = await native();
    await withKeys(owner.wire, 1);
    const { wire } = await native();
    await fetchBundles(wire, [owner.jid]);
    const u = userIn(await fetchBundles(wire, [owner.jid]), owner.jid) as XmlNode;
    expect(child(u, "key")).toBeUndefined();
    expect(child(u, "skey")).toBeDefined();
    owner.wire.close();
  });

  it('§7.3 an unknown user is <user jid><error code="404"/></user>', async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    const u = userIn(
      await fetchBundles(wire, ["100000000000001@lid.gk"]),
      "100000000000001@lid.gk",
    );
    expect(u && child(u, "error")?.attrs.code).toBe("404");
    wire.close();
  });

  it("§7.3 a user the caller cannot reach (did not opt in) is 404 like an unknown one", async (ctx) => {
    need(ctx, "admin", "partner");
    const owner = await native();
    await withKeys(owner.wire, 3);
    const { wire } = await enlistedPartner(t);
    const u = userIn(await fetchBundles(wire, [owner.jid]), owner.jid);
    expect(u && child(u, "error")?.attrs.code).toBe("404");
    expect(await prekeyCount(owner.wire)).toBe(3);
    owner.wire.close();
  });

  it("§7.3 20 users in one fetch are answered", async (ctx) => {
    need(ctx, "admin");
    const { wire } = await native();
    const jids = Array.from(
      { length: t.limits.bundleUsersPerFetch },
      (_, i) => `1000000000000${String(i).padStart(2, "0")}@lid.gk`,
    );
    expect(child(await fetchBundles(wire, jids), "list")?.children.length).toBe(jids.length);
    wire.close();
  });

  it('§7.3 more than 20 users is iq error 400 text="too-many-users" and no prekey is consumed', async (ctx) => {
    need(ctx, "admin");
    const owner = await native();
    await withKeys(owner.wire, 5);
    const { wire } = await native();
    const jids = [
      owner.jid,
      ...Array.from(
        { length: t.limits.bundleUsersPerFetch },
        (_, i) => `1000000000000${String(i).padStart(2, "0")}@lid.gk`,
      ),
    ];
    expect(iqError(await fetchBundles(wire, jids))).toEqual({
      code: "400",
      text: "too-many-users",
    });
    expect(await prekeyCount(owner.wire)).toBe(5);
    owner.wire.close();
  });
});
