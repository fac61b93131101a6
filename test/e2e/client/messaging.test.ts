import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GatekeeperClient } from "../../../src/gatekeeper/client/index.js";
import { mediaMessage, textMessage } from "../../../src/gatekeeper/content/index.js";
import { decryptMedia, encryptMedia } from "../../../src/gatekeeper/media/index.js";
import type { MediaType } from "../../../src/gatekeeper/media/index.js";
import type { Message } from "../../../src/gen/gki_pb.js";
import { parseStanza } from "../../../src/gatekeeper/stanza/index.js";
import { startSandbox } from "../../../src/sandbox/index.js";
import type { NewUser, Sandbox } from "../../../src/sandbox/index.js";
import { Recorder, TestFiles, nativeClient, newPhone } from "./helpers.js";

/** Encrypts `bytes`, uploads the blob with `client`, returns the MediaRef fields. */
async function upload(
  client: GatekeeperClient,
  bytes: Uint8Array,
  type: MediaType,
  mimetype: string,
) {
  const enc = encryptMedia(bytes, type);
  const up = await client.uploadMedia(enc.blob);
  return {
    url: up.url,
    directPath: up.directPath,
    mediaKey: enc.mediaKey,
    fileSha256: enc.fileSha256,
    fileEncSha256: enc.fileEncSha256,
    fileLength: enc.fileLength,
    mimetype,
  };
}

interface MediaFields {
  url?: string;
  directPath?: string;
  mediaKey?: Uint8Array;
  fileSha256?: Uint8Array;
  fileEncSha256?: Uint8Array;
}

/** What the receiving user sees: download by direct path, check and decrypt. */
async function fetchAndDecrypt(
  client: GatekeeperClient,
  m: MediaFields,
  type: MediaType,
): Promise<Uint8Array> {
  const blob = await client.downloadMedia(m.directPath ?? m.url ?? "", {
    fileEncSha256: m.fileEncSha256!,
  });
  return decryptMedia(blob, {
    mediaKey: m.mediaKey!,
    mediaType: type,
    fileEncSha256: m.fileEncSha256!,
    fileSha256: m.fileSha256!,
  });
}

describe("GatekeeperClient: two native users", () => {
  let sandbox: Sandbox;
  let files: TestFiles;
  let alice: NewUser;
  let bob: NewUser;
  let a: GatekeeperClient;
  let b: GatekeeperClient;
  let errors: Error[];

  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    files = new TestFiles();
    alice = await sandbox.admin.addUser({ phone: newPhone(), name: "Alice" });
    bob = await sandbox.admin.addUser({ phone: newPhone(), name: "Bob" });
    a = nativeClient(sandbox, alice, await files.db());
    b = nativeClient(sandbox, bob, await files.db());
    errors = [];
    a.on("error", (e) => void errors.push(e));
    b.on("error", (e) => void errors.push(e));
    await a.start();
    await b.start();
  });

  afterEach(async () => {
    await a.stop();
    await b.stop();
    await sandbox.close();
    await files.close();
  });

  it("exchanges text both ways, end-to-end encrypted, with the gatekeeper's timestamps", async () => {
    expect(a.state).toBe("connected");
    expect(a.jid).toBe(alice.jid);
    expect(a.enlisted).toBe(true);
    const atB = new Recorder(b, "message");
    const atA = new Recorder(a, "message");

    const first = await a.sendMessage(bob.jid, textMessage("hello *bob*"));
    expect(first.id).toMatch(/^3EB0[0-9A-F]{16}$/);
    expect(first.t).toBeGreaterThan(1_600_000_000);
    const [m1] = await atB.waitFor(1);
    expect(m1).toMatchObject({ id: first.id, from: alice.jid, offline: false });
    expect(m1!.content.conversation).toBe("hello *bob*");

    const reply = await b.sendMessage(alice.jid, textMessage("hi alice"));
    const [m2] = await atA.waitFor(1);
    expect(m2).toMatchObject({ id: reply.id, from: bob.jid });
    expect(m2!.content.conversation).toBe("hi alice");

    // A second message in the same direction rides the established session.
    await a.sendMessage(bob.jid, textMessage("second"));
    const all = await atB.waitFor(2);
    expect(all.map((m) => m.content.conversation)).toEqual(["hello *bob*", "second"]);
    await expect(a.fingerprint(bob.jid)).resolves.toMatch(/^\d{60}$/);
    expect(await a.fingerprint(bob.jid)).toBe(await b.fingerprint(alice.jid));
    expect(errors).toEqual([]);
  });

  it("delivers delivery and read receipts for batched ids", async () => {
    const atB = new Recorder(b, "message");
    const receipts = new Recorder(a, "receipt");
    const m1 = await a.sendMessage(bob.jid, textMessage("one"));
    const m2 = await a.sendMessage(bob.jid, textMessage("two"));
    await atB.waitFor(2);
    await b.sendReceipt(alice.jid, [m1.id, m2.id]);
    await b.sendReceipt(alice.jid, [m1.id, m2.id], "read");
    const got = await receipts.waitFor(2);
    expect(got[0]).toMatchObject({ from: bob.jid, ids: [m1.id, m2.id], type: "delivered" });
    expect(got[1]).toMatchObject({ from: bob.jid, ids: [m1.id, m2.id], type: "read" });
  });

  it("sends an image, a voice note and a file; the peer downloads and decrypts them byte-exact", async () => {
    const atB = new Recorder(b, "message");
    const image = randomBytes(70_000);
    const voice = randomBytes(12_345);
    const file = randomBytes(200_001);
    const waveform = new Uint8Array(64).map((_, i) => (i * 37) % 101);

    const imageRef = await upload(a, image, "image", "image/jpeg");
    await a.sendMessage(
      bob.jid,
      mediaMessage("image", imageRef, { caption: "a picture", width: 640, height: 480 }),
    );
    const voiceRef = await upload(a, voice, "ptt", "audio/ogg; codecs=opus");
    await a.sendMessage(
      bob.jid,
      mediaMessage("audio", voiceRef, { ptt: true, seconds: 7, waveform }),
    );
    const fileRef = await upload(a, file, "document", "application/pdf");
    await a.sendMessage(
      bob.jid,
      mediaMessage("document", fileRef, { fileName: "report.pdf", caption: "the report" }),
    );

    const [mImage, mVoice, mFile] = (await atB.waitFor(3)).map((m) => m.content) as [
      Message,
      Message,
      Message,
    ];
    const img = mImage.imageMessage!;
    expect(img.caption).toBe("a picture");
    expect([img.width, img.height]).toEqual([640, 480]);
    expect(Buffer.from(await fetchAndDecrypt(b, img, "image")).equals(image)).toBe(true);

    const audio = mVoice.audioMessage!;
    expect(audio.ptt).toBe(true);
    expect(audio.seconds).toBe(7);
    expect(Buffer.from(audio.waveform!)).toEqual(Buffer.from(waveform));
    expect(Buffer.from(await fetchAndDecrypt(b, audio, "ptt")).equals(voice)).toBe(true);

    const doc = mFile.documentMessage!;
    expect(doc.fileName).toBe("report.pdf");
    expect(Number(doc.fileLength)).toBe(file.length);
    // By full URL this time (same host: fetched directly, not through the proxy).
    const blob = await b.downloadMedia(doc.url!, { fileEncSha256: doc.fileEncSha256! });
    const plain = decryptMedia(blob, {
      mediaKey: doc.mediaKey!,
      mediaType: "document",
      fileSha256: doc.fileSha256!,
    });
    expect(Buffer.from(plain).equals(file)).toBe(true);
  });

  it("the gatekeeper stores and relays only ciphertext: text, image, voice note and file", async () => {
    await b.stop(); // Bob offline: everything waits in the gatekeeper's queue, where we can look.
    const text = "secret words for Bob only";
    const image = Buffer.concat([Buffer.from("IMAGE-PLAINTEXT-MARKER"), randomBytes(30_000)]);
    const voice = Buffer.concat([Buffer.from("VOICE-PLAINTEXT-MARKER"), randomBytes(9_000)]);
    const file = Buffer.concat([Buffer.from("FILE-PLAINTEXT-MARKER"), randomBytes(50_000)]);
    const refs = {
      image: await upload(a, image, "image", "image/jpeg"),
      voice: await upload(a, voice, "ptt", "audio/ogg; codecs=opus"),
      file: await upload(a, file, "document", "application/pdf"),
    };
    await a.sendMessage(bob.jid, textMessage(text));
    await a.sendMessage(bob.jid, mediaMessage("image", refs.image, { caption: "cap-marker" }));
    await a.sendMessage(bob.jid, mediaMessage("audio", refs.voice, { ptt: true, seconds: 3 }));
    await a.sendMessage(bob.jid, mediaMessage("document", refs.file, { fileName: "plan.pdf" }));

    // What the gatekeeper holds for Bob: four message stanzas of opaque ciphertext.
    const queued = (await sandbox.admin.queues()).find((q) => q.recipient === bob.jid)?.stanzas;
    expect(queued).toHaveLength(4);
    const markers = [text, "cap-marker", "plan.pdf", "IMAGE-PLAINTEXT", "VOICE-PLAINTEXT"];
    for (const entry of queued!) {
      const stanza = parseStanza(entry.payload);
      if (stanza.kind !== "message" || !stanza.enc) throw new Error(`unexpected ${stanza.kind}`);
      const wire = Buffer.from(entry.payload);
      const ciphertext = Buffer.from(stanza.enc.ciphertext);
      for (const marker of markers) {
        expect(wire.includes(marker)).toBe(false);
        expect(ciphertext.includes(marker)).toBe(false);
        expect(wire.includes(Buffer.from(marker).toString("base64").slice(0, 12))).toBe(false);
      }
    }
    // What its media host holds: the encrypted blobs, byte for byte what Alice uploaded.
    for (const [ref, plain, type] of [
      [refs.image, image, "image"],
      [refs.voice, voice, "ptt"],
      [refs.file, file, "document"],
    ] as const) {
      const stored = Buffer.from(await a.downloadMedia(ref.directPath));
      expect(stored.includes(plain.subarray(0, 22))).toBe(false);
      expect(stored.length).toBe((Math.floor(plain.length / 16) + 1) * 16 + 10);
      const again = decryptMedia(stored, { mediaKey: ref.mediaKey, mediaType: type });
      expect(Buffer.from(again).equals(plain)).toBe(true);
    }

    // And Bob, once back, reads all of it.
    const atB = new Recorder(b, "message");
    await b.start();
    const got = (await atB.waitFor(4)).map((m) => m.content);
    expect(got[0]!.conversation).toBe(text);
    expect(got[1]!.imageMessage!.caption).toBe("cap-marker");
    expect(Buffer.from(await fetchAndDecrypt(b, got[2]!.audioMessage!, "ptt")).equals(voice)).toBe(
      true,
    );
    expect(got[3]!.documentMessage!.fileName).toBe("plan.pdf");
  });

  it("rejects a message to an unknown user with the gatekeeper's 404", async () => {
    await expect(
      a.sendMessage("999999999999999@lid.gk", textMessage("anyone?")),
    ).rejects.toMatchObject({
      name: "GatekeeperError",
      code: "unreachable",
      gkiCode: 404,
    });
  });

  it("passes typing notifications and presence to the connected peer", async () => {
    await a.sendMessage(bob.jid, textMessage("hi")); // chat states need an existing conversation
    await new Recorder(b, "message").waitFor(1).catch(() => undefined);
    const typing = new Recorder(b, "chatstate");
    await a.sendChatState(bob.jid, "composing", "audio");
    const [state] = await typing.waitFor(1);
    expect(state).toEqual({ from: alice.jid, state: "composing", media: "audio" });

    const presence = new Recorder(b, "presence");
    await b.subscribePresence(alice.jid);
    await presence.waitFor(1);
    await a.setPresence("unavailable");
    const seen = await presence.waitFor(2);
    expect(seen[0]).toMatchObject({ from: alice.jid });
    expect(seen.at(-1)).toMatchObject({ from: alice.jid, type: "unavailable" });
  });

  it("finds users by phone number and blocks them", async () => {
    const found = await a.lookup([bob.phone, "+4915199999999"]);
    expect(found).toEqual([
      expect.objectContaining({ phone: bob.phone, jid: bob.jid }),
      { phone: "+4915199999999" },
    ]);
    await a.block(bob.jid);
    expect(await a.blocklist()).toEqual([bob.jid]);
    await a.unblock(bob.jid);
    expect(await a.blocklist()).toEqual([]);
  });
});
