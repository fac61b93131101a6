import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type BundleResultItem,
  type PreKeyUpload,
  type StanzaOf,
  type XmlNode,
  StanzaError,
  buildBlocklist,
  buildBlocklistChange,
  buildBundleRequest,
  buildBundleResult,
  buildCountRequest,
  buildCountResult,
  buildEnlistRemove,
  buildEnlistRequest,
  buildEnlistRequestResult,
  buildEnlistVerify,
  buildEnlistedResult,
  buildInteropSettings,
  buildLookupQuery,
  buildLookupResult,
  buildMediaConnRequest,
  buildMediaConnResult,
  buildPing,
  buildPreKeyUpload,
  encodeStanza,
  isBundleError,
  isCountRequest,
  isMediaConnRequest,
  isPing,
  parseBlocklist,
  parseBlocklistChange,
  parseBundleRequest,
  parseBundleResult,
  parseCountResult,
  parseEnlistAction,
  parseEnlistRequestResult,
  parseEnlistedResult,
  parseInteropSettings,
  parseLookupQuery,
  parseLookupResult,
  parseMediaConnResult,
  parsePreKeyUpload,
  parseStanza,
} from "../../../src/gatekeeper/stanza/index.js";

const LID = "482910375561204@lid.gk";
const PARTNER = "matrix.a1b2c3@interop";
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function caught(fn: () => unknown): StanzaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StanzaError);
    return err as StanzaError;
  }
  throw new Error("expected a StanzaError");
}

/** Children after a trip through a real iq stanza on the wire. */
function overTheWire(children: XmlNode[], type: "get" | "set" | "result" = "result"): XmlNode[] {
  const iq: StanzaOf<"iq"> = { kind: "iq", id: "q1", type, children };
  const back = parseStanza(encodeStanza(iq));
  if (back.kind !== "iq") throw new Error("not an iq");
  return back.children;
}

/** Children of an iq written by hand, as in docs/protocol.md. */
function childrenOf(xml: string): XmlNode[] {
  const s = parseStanza(xml);
  if (s.kind !== "iq" && s.kind !== "notification") throw new Error("no children");
  return s.children;
}

const signed = (id: number) => ({ id, publicKey: bytes(33), signature: bytes(64) });

describe("prekey upload (§7.1)", () => {
  const full: PreKeyUpload = {
    registrationId: 16380,
    identityKey: bytes(33),
    deviceId: 1,
    preKeys: [
      { id: 1, publicKey: bytes(33) },
      { id: 16777215, publicKey: bytes(33) },
    ],
    signedPreKey: signed(1),
    kyberPreKey: { id: 1, publicKey: bytes(1569), signature: bytes(64) },
  };

  it("round-trips a first upload and a refill", () => {
    expect(parsePreKeyUpload(overTheWire(buildPreKeyUpload(full), "set"))).toEqual(full);
    const refill: PreKeyUpload = { preKeys: [{ id: 51, publicKey: bytes(33) }] };
    expect(parsePreKeyUpload(overTheWire(buildPreKeyUpload(refill), "set"))).toEqual(refill);
  });

  it("reads the documented shape", () => {
    const u = parsePreKeyUpload(
      childrenOf(`<iq id="u1" type="set" xmlns="encrypt">
  <registration>AAA//A==</registration>
  <identity>BQ==</identity>
  <device id="1"/>
  <list>
    <key id="1">BQE=</key>
    <key id="2">BQI=</key>
  </list>
  <skey id="1" signature="AQID">BQM=</skey>
  <kkey id="1" signature="BAUG">CAQ=</kkey>
</iq>`),
    );
    expect(u).toEqual({
      registrationId: 16380,
      identityKey: new Uint8Array([5]),
      deviceId: 1,
      preKeys: [
        { id: 1, publicKey: new Uint8Array([5, 1]) },
        { id: 2, publicKey: new Uint8Array([5, 2]) },
      ],
      signedPreKey: {
        id: 1,
        publicKey: new Uint8Array([5, 3]),
        signature: new Uint8Array([1, 2, 3]),
      },
      kyberPreKey: {
        id: 1,
        publicKey: new Uint8Array([8, 4]),
        signature: new Uint8Array([4, 5, 6]),
      },
    });
  });

  it.each([
    ["prekey id 0", `<list><key id="0">BQE=</key></list>`],
    ["prekey id over 24 bits", `<list><key id="16777216">BQE=</key></list>`],
    ["prekey id not decimal", `<list><key id="0x1">BQE=</key></list>`],
    ["empty prekey", `<list><key id="1"/></list>`],
    ["bad base64 prekey", `<list><key id="1">BQE</key></list>`],
    ["device 0", `<device id="0"/>`],
    ["device 128", `<device id="128"/>`],
    ["skey without signature", `<skey id="1">BQM=</skey>`],
    ["skey with bad signature", `<skey id="1" signature="%%">BQM=</skey>`],
    ["registration 3 bytes", `<registration>AAAA</registration>`],
    ["empty identity", `<identity/>`],
  ])("400: %s", (_name, inner) => {
    const children = childrenOf(`<iq id="u" type="set" xmlns="encrypt">${inner}</iq>`);
    expect(caught(() => parsePreKeyUpload(children)).code).toBe(400);
  });

  it("refuses more than 812 prekeys in one upload", () => {
    const keys = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ id: i + 1, publicKey: bytes(33) }));
    expect(parsePreKeyUpload(buildPreKeyUpload({ preKeys: keys(812) })).preKeys).toHaveLength(812);
    expect(caught(() => buildPreKeyUpload({ preKeys: keys(813) })).code).toBe(400);
    const list = `<list>${'<key id="1">BQE=</key>'.repeat(813)}</list>`;
    expect(
      caught(() => parsePreKeyUpload(childrenOf(`<iq id="u" type="set">${list}</iq>`))).code,
    ).toBe(400);
  });
});

describe("bundles (§7.3)", () => {
  it("round-trips a request", () => {
    expect(parseBundleRequest(overTheWire(buildBundleRequest([LID, PARTNER]), "get"))).toEqual([
      LID,
      PARTNER,
    ]);
  });

  it("reads the documented request and refuses bad ones", () => {
    expect(
      parseBundleRequest(
        childrenOf(`<iq id="k" type="get" xmlns="encrypt"><key><user jid="${LID}"/></key></iq>`),
      ),
    ).toEqual([LID]);
    expect(
      caught(() => parseBundleRequest(childrenOf(`<iq id="k" type="get"><key/></iq>`))).code,
    ).toBe(400);
    expect(
      caught(() =>
        parseBundleRequest(childrenOf(`<iq id="k" type="get"><key><user jid="x"/></key></iq>`)),
      ).code,
    ).toBe(400);
    expect(caught(() => parseBundleRequest([])).code).toBe(400);
    const many = Array.from(
      { length: 21 },
      (_, i) => `48291037556${String(i).padStart(4, "0")}@lid.gk`,
    );
    expect(caught(() => buildBundleRequest(many)).code).toBe(400);
  });

  it("round-trips bundles with and without a one-time prekey, and per-user errors", () => {
    const items: BundleResultItem[] = [
      {
        jid: LID,
        registrationId: 1,
        deviceId: 1,
        identityKey: bytes(33),
        preKey: { id: 77, publicKey: bytes(33) },
        signedPreKey: signed(3),
        kyberPreKey: signed(4),
      },
      {
        jid: PARTNER,
        registrationId: 0xffffffff,
        deviceId: 127,
        identityKey: bytes(33),
        signedPreKey: signed(0),
        kyberPreKey: signed(9),
      },
      { jid: "999999999999999@lid.gk", error: 404 },
    ];
    const back = parseBundleResult(overTheWire(buildBundleResult(items)));
    expect(back).toEqual(items);
    expect(back.map(isBundleError)).toEqual([false, false, true]);
  });

  it("reads the documented result shape", () => {
    const [bundle, missing] = parseBundleResult(
      childrenOf(`<iq id="k" type="result"><list>
    <user jid="${LID}">
      <registration>AAAAAQ==</registration><identity>BQ==</identity><device id="1"/>
      <skey id="2" signature="AQ==">BQI=</skey>
      <kkey id="3" signature="Ag==">CAM=</kkey>
    </user>
    <user jid="${PARTNER}"><error code="404"/></user>
  </list></iq>`),
    );
    expect(bundle).toEqual({
      jid: LID,
      registrationId: 1,
      deviceId: 1,
      identityKey: new Uint8Array([5]),
      signedPreKey: { id: 2, publicKey: new Uint8Array([5, 2]), signature: new Uint8Array([1]) },
      kyberPreKey: { id: 3, publicKey: new Uint8Array([8, 3]), signature: new Uint8Array([2]) },
    });
    expect(missing).toEqual({ jid: PARTNER, error: 404 });
  });

  it("refuses a bundle without a signed prekey", () => {
    const children = childrenOf(
      `<iq id="k" type="result"><list><user jid="${LID}"><registration>AAAAAQ==</registration><identity>BQ==</identity><device id="1"/><kkey id="3" signature="Ag==">CAM=</kkey></user></list></iq>`,
    );
    expect(caught(() => parseBundleResult(children)).code).toBe(400);
  });
});

describe("prekey count (§7.2)", () => {
  it("round-trips the query and the result, also inside a notification", () => {
    expect(isCountRequest(overTheWire(buildCountRequest(), "get"))).toBe(true);
    expect(isCountRequest(buildPing())).toBe(false);
    expect(parseCountResult(overTheWire(buildCountResult(812)))).toBe(812);
    expect(
      parseCountResult(
        childrenOf(`<notification id="n" type="encrypt"><count value="9"/></notification>`),
      ),
    ).toBe(9);
    expect(
      caught(() =>
        parseCountResult(childrenOf(`<iq id="c" type="result"><count value="-1"/></iq>`)),
      ).code,
    ).toBe(400);
    expect(caught(() => parseCountResult(childrenOf(`<iq id="c" type="result"/>`))).code).toBe(400);
  });
});

describe("directory lookup (§12.1)", () => {
  it("round-trips a query and reads the documented one", () => {
    const phones = ["+4917012345678", "+4917099999999"];
    expect(parseLookupQuery(overTheWire(buildLookupQuery(phones), "get"))).toEqual(phones);
    expect(
      parseLookupQuery(
        childrenOf(
          `<iq id="l" type="get" xmlns="usync"><query><contact>+4917012345678</contact></query></iq>`,
        ),
      ),
    ).toEqual(["+4917012345678"]);
  });

  it("refuses non-E.164 contacts and oversize queries", () => {
    expect(caught(() => buildLookupQuery(["017012345678"])).code).toBe(400);
    expect(
      caught(() =>
        parseLookupQuery(
          childrenOf(`<iq id="l" type="get"><query><contact>+49 170</contact></query></iq>`),
        ),
      ).code,
    ).toBe(400);
    const many = Array.from({ length: 21 }, (_, i) => `+49170123456${String(i).padStart(2, "0")}`);
    expect(caught(() => buildLookupQuery(many)).code).toBe(400);
  });

  it("round-trips results; a contact without jid is type=out", () => {
    const items = [
      { contact: "+4917012345678", jid: LID, name: "Alice" },
      { contact: "+4917011111111", jid: LID },
      { contact: "+4917099999999" },
    ];
    const children = buildLookupResult(items);
    expect(children[0]?.children[2]?.attrs).toEqual({ contact: "+4917099999999", type: "out" });
    expect(parseLookupResult(overTheWire(children))).toEqual(items);
    expect(
      parseLookupResult(
        childrenOf(`<iq id="l" type="result"><list>
    <user contact="+4917012345678" jid="482910375561204@lid.gk" name="Alice"/>
    <user contact="+4917099999999" type="out"/>
  </list></iq>`),
      ),
    ).toEqual([
      { contact: "+4917012345678", jid: LID, name: "Alice" },
      { contact: "+4917099999999" },
    ]);
  });
});

describe("enlistment (§6)", () => {
  it("round-trips the three actions", () => {
    expect(parseEnlistAction(overTheWire(buildEnlistRequest(), "set"))).toEqual({
      action: "request",
    });
    expect(parseEnlistAction(overTheWire(buildEnlistVerify("123456"), "set"))).toEqual({
      action: "verify",
      code: "123456",
    });
    expect(parseEnlistAction(overTheWire(buildEnlistRemove(), "set"))).toEqual({
      action: "remove",
    });
  });

  it("round-trips the results", () => {
    expect(
      parseEnlistRequestResult(overTheWire(buildEnlistRequestResult({ expires: 600, length: 6 }))),
    ).toEqual({
      expires: 600,
      length: 6,
    });
    expect(parseEnlistedResult(overTheWire(buildEnlistedResult(PARTNER)))).toBe(PARTNER);
  });

  it("parses the exchange shown in docs/protocol.md §6", async () => {
    const { readFile } = await import("node:fs/promises");
    const doc = await readFile(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## 6. Enlistment"), doc.indexOf("## 7."));
    const lines = section.split("\n").filter((l) => l.startsWith("→ ") || l.startsWith("← "));
    expect(lines).toHaveLength(6);
    const [req, reqResult, verify, enlisted, remove, removed] = lines.map((l) =>
      parseStanza(l.slice(2)),
    );
    const kids = (s: unknown) => (s as StanzaOf<"iq">).children;
    expect(parseEnlistAction(kids(req))).toEqual({ action: "request" });
    expect(parseEnlistRequestResult(kids(reqResult))).toEqual({ expires: 600, length: 6 });
    expect(parseEnlistAction(kids(verify))).toEqual({ action: "verify", code: "123456" });
    expect(parseEnlistedResult(kids(enlisted))).toBe(PARTNER);
    expect(parseEnlistAction(kids(remove))).toEqual({ action: "remove" });
    expect(removed).toEqual({ kind: "iq", id: "3", type: "result", children: [] });
  });

  it("refuses malformed actions", () => {
    expect(caught(() => parseEnlistAction([])).code).toBe(400);
    expect(
      caught(() => parseEnlistAction(childrenOf(`<iq id="e" type="set"><verify/></iq>`))).code,
    ).toBe(400);
    expect(
      caught(() =>
        parseEnlistAction(childrenOf(`<iq id="e" type="set"><verify code="12345a"/></iq>`)),
      ).code,
    ).toBe(400);
    expect(caught(() => buildEnlistVerify("1234567")).code).toBe(400);
  });
});

describe("media connection (§11.2)", () => {
  it("round-trips request and result", () => {
    expect(isMediaConnRequest(overTheWire(buildMediaConnRequest(), "set"))).toBe(true);
    const mc = { auth: "tok/+=&<", ttl: 300, host: "https://media.gk.example" };
    expect(parseMediaConnResult(overTheWire(buildMediaConnResult(mc)))).toEqual(mc);
    expect(
      parseMediaConnResult(
        childrenOf(
          `<iq id="m" type="result"><media_conn auth="TOKEN" ttl="300" host="https://media.gk.example"/></iq>`,
        ),
      ),
    ).toEqual({ auth: "TOKEN", ttl: 300, host: "https://media.gk.example" });
    expect(
      caught(() =>
        parseMediaConnResult(
          childrenOf(`<iq id="m" type="result"><media_conn auth="T" host="h"/></iq>`),
        ),
      ).code,
    ).toBe(400);
  });
});

describe("blocklist (§12.3)", () => {
  it("round-trips changes and the list", () => {
    expect(parseBlocklistChange(overTheWire(buildBlocklistChange("block", LID), "set"))).toEqual({
      action: "block",
      jid: LID,
    });
    expect(
      parseBlocklistChange(overTheWire(buildBlocklistChange("unblock", PARTNER), "set")),
    ).toEqual({
      action: "unblock",
      jid: PARTNER,
    });
    expect(parseBlocklist(overTheWire(buildBlocklist([LID, PARTNER])))).toEqual([LID, PARTNER]);
    expect(parseBlocklist(overTheWire(buildBlocklist([])))).toEqual([]);
    expect(parseBlocklist([])).toEqual([]);
  });

  it("refuses bad actions and JIDs", () => {
    expect(
      caught(() =>
        parseBlocklistChange(
          childrenOf(`<iq id="b" type="set"><item action="mute" jid="${LID}"/></iq>`),
        ),
      ).code,
    ).toBe(400);
    expect(
      caught(() =>
        parseBlocklistChange(
          childrenOf(`<iq id="b" type="set"><item action="block" jid="+49170"/></iq>`),
        ),
      ).code,
    ).toBe(400);
    expect(caught(() => buildBlocklist(["bob"])).code).toBe(400);
  });
});

describe("interop settings (§12.2)", () => {
  it("round-trips explicit partner lists, none, and *", () => {
    for (const s of [
      { enabled: true, partners: ["matrix", "other-1"], inbox: "separate" as const },
      { enabled: false, partners: [], inbox: "combined" as const },
      { enabled: true, partners: "*" as const, inbox: "combined" as const },
    ]) {
      expect(parseInteropSettings(overTheWire(buildInteropSettings(s), "set"))).toEqual(s);
    }
  });

  it("reads the documented shape and refuses bad values", () => {
    expect(
      parseInteropSettings(
        childrenOf(
          `<iq id="s" type="set" xmlns="interop"><settings enabled="true" partners="matrix,xmpp" inbox="separate"/></iq>`,
        ),
      ),
    ).toEqual({ enabled: true, partners: ["matrix", "xmpp"], inbox: "separate" });
    const bad = (attrs: string) => childrenOf(`<iq id="s" type="set"><settings ${attrs}/></iq>`);
    expect(
      caught(() => parseInteropSettings(bad(`enabled="yes" partners="*" inbox="separate"`))).code,
    ).toBe(400);
    expect(
      caught(() => parseInteropSettings(bad(`enabled="true" partners="Matrix" inbox="separate"`)))
        .code,
    ).toBe(400);
    expect(
      caught(() => parseInteropSettings(bad(`enabled="true" partners="a,,b" inbox="separate"`)))
        .code,
    ).toBe(400);
    expect(
      caught(() => parseInteropSettings(bad(`enabled="true" partners="*" inbox="mixed"`))).code,
    ).toBe(400);
    expect(
      caught(() => buildInteropSettings({ enabled: true, partners: ["a.b"], inbox: "separate" }))
        .code,
    ).toBe(400);
  });
});

describe("ping (§10)", () => {
  it("builds and recognises a ping", () => {
    expect(isPing(overTheWire(buildPing(), "get"))).toBe(true);
    expect(isPing(childrenOf(`<iq id="p" type="get" xmlns="w:p" to="gk"><ping/></iq>`))).toBe(true);
    expect(isPing([])).toBe(false);
    expect(isPing(buildCountRequest())).toBe(false);
  });
});
