/**
 * Media from Matrix into a gatekeeper group (docs/protocol.md §11.4, §19.5): a Matrix user
 * and two native users in one group. What the Matrix user sends (an image, a voice message,
 * a file) reaches both natives once; each fetches the bridge-hosted blob through the
 * gatekeeper's media proxy (they share a group with the Matrix user, no one-to-one chat)
 * and decrypts it to the bytes that were sent. The blob is served to every member, so the
 * one fetched first is still on disk for the second.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import { textMessage } from "../../../src/gatekeeper/content/index.js";
import type { MediaContent } from "../../../src/gatekeeper/content/index.js";
import type { Room } from "../../harness/matrix-user.js";
import {
  MediaWorld,
  filesIn,
  matrixUpload,
  mediaOf,
  nativeFetch,
  randomFile,
} from "../bridge-media/media-world.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";

const SUBJECT = "Photo club";

describe("media from a Matrix user into a gatekeeper group", () => {
  let m: MediaWorld;
  let alice: MatrixActor;
  let carol: NativeActor;
  let dave: NativeActor;
  let aliceJid: string;
  let group: string;
  let room: string;

  beforeAll(async () => {
    m = await MediaWorld.create("group-media");
    await m.startBridge();
    const w = m.world;
    alice = await w.matrixUser("alice");
    carol = await w.nativeUser("Carol", { groups: true });
    dave = await w.nativeUser("Dave", { groups: true });
    const alicePhone = w.newPhone();
    const mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, alicePhone, w.codeFor);
    aliceJid = (await carol.lookup(alicePhone))!;
    expect(aliceJid).toBeDefined();
    const created = await carol.client.groups.create(SUBJECT, [aliceJid, dave.jid]);
    expect(created.results.filter((r) => r.error !== undefined)).toEqual([]);
    group = created.group.jid;
    const named = (r: Room): boolean =>
      r.name === SUBJECT ||
      r.currentState.getStateEvents("m.room.name", "")?.getContent().name === SUBJECT;
    room = await alice.acceptInvite(named, 20_000);
  }, 90_000);

  afterAll(async () => {
    await m?.close();
  });

  /** Alice sends `content` into the group; resolves with what each native received of it. */
  async function aliceSends(content: Record<string, unknown>): Promise<MediaContent[]> {
    const before = [carol.received.length, dave.received.length];
    await alice.send(room, content);
    const arrived = (n: NativeActor, i: number): Promise<MessageEvent> =>
      n.waitFor(
        (e) => n.received.indexOf(e) >= before[i]! && e.group === group && e.from === aliceJid,
        "Alice's message in the group",
        20_000,
      );
    const got = await Promise.all([arrived(carol, 0), arrived(dave, 1)]);
    return got.map(mediaOf);
  }

  it("an image reaches both native members, and each decrypts the same bytes", async () => {
    const photo = randomFile(200_000);
    const url = await matrixUpload(alice, photo, "image/png", "harbour.png");
    const [toCarol, toDave] = await aliceSends({
      msgtype: "m.image",
      body: "the harbour at dawn",
      filename: "harbour.png",
      url,
      info: { mimetype: "image/png", size: photo.length, w: 800, h: 600 },
    });
    for (const image of [toCarol!, toDave!])
      expect(image).toMatchObject({
        kind: "image",
        caption: "the harbour at dawn",
        width: 800,
        height: 600,
      });
    // One message for the group: the same blob, key and hashes for every member.
    expect(toDave!.media.url).toBe(toCarol!.media.url);
    const fromCarol = await nativeFetch(carol, toCarol!);
    const token = toCarol!.media.url.split("/").pop()!;
    // Fetched once, still hosted: the other member fetches it too (§11.4).
    expect(filesIn(m.hostedDir)).toContain(token);
    const fromDave = await nativeFetch(dave, toDave!);
    expect(fromCarol.equals(photo)).toBe(true);
    expect(fromDave.equals(photo)).toBe(true);
    // Neither fetch used it up: a member who fetches again (another device) gets it as well.
    expect((await nativeFetch(carol, toCarol!)).equals(photo)).toBe(true);
    expect(carol.received.filter((e) => e.from === aliceJid && e.group === group)).toHaveLength(1);
  }, 60_000);

  it("a voice message arrives as voice, and a file with its name, at both members", async () => {
    const voice = randomFile(30_000);
    const voiceUrl = await matrixUpload(alice, voice, "audio/ogg", "Voice message.ogg");
    const notes = await aliceSends({
      msgtype: "m.audio",
      body: "Voice message",
      url: voiceUrl,
      info: { mimetype: "audio/ogg", size: voice.length, duration: 3_000 },
      "org.matrix.msc1767.audio": { duration: 3_000, waveform: [0, 512, 1024] },
      "org.matrix.msc3245.voice": {},
    });
    for (const [n, note] of [carol, dave].map((x, i) => [x, notes[i]!] as const)) {
      expect(note).toMatchObject({ kind: "audio", ptt: true, seconds: 3 });
      expect((await nativeFetch(n, note)).equals(voice)).toBe(true);
    }

    const doc = randomFile(120_000);
    const docUrl = await matrixUpload(alice, doc, "application/pdf", "plan.pdf");
    const docs = await aliceSends({
      msgtype: "m.file",
      body: "plan.pdf",
      filename: "plan.pdf",
      url: docUrl,
      info: { mimetype: "application/pdf", size: doc.length },
    });
    for (const [n, file] of [carol, dave].map((x, i) => [x, docs[i]!] as const)) {
      expect(file).toMatchObject({ kind: "document", fileName: "plan.pdf" });
      expect((await nativeFetch(n, file)).equals(doc)).toBe(true);
    }
  }, 60_000);

  it("an image in reply names the quoted message's sender", async () => {
    await carol.client.groups.send(group, textMessage("show us the boat"));
    const quoted = await alice.waitForPuppetText(room, "show us the boat", 20_000);
    const original = await dave.waitForText("show us the boat");
    const photo = randomFile(10_000);
    const url = await matrixUpload(alice, photo, "image/png", "boat.png");
    const [, toDave] = await aliceSends({
      msgtype: "m.image",
      body: "boat.png",
      url,
      info: { mimetype: "image/png", size: photo.length },
      "m.relates_to": { "m.in_reply_to": { event_id: quoted.getId() } },
    });
    expect(toDave!.contextInfo).toMatchObject({ stanzaId: original.id, participant: carol.jid });
    expect((await nativeFetch(dave, toDave!)).equals(photo)).toBe(true);
  }, 60_000);
});
