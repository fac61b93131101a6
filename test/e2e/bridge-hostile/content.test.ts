/**
 * A hostile or broken contact's content, end to end (docs/protocol.md §8.2, §8.3): a native
 * gatekeeper user (the gatekeeper's own client) sends Messages no honest app sends, and the
 * Matrix user (matrix-js-sdk) sees what the bridge could show plus a notice of the rest; a
 * deletion or reaction smuggled in with other content is never applied; content that is not a
 * protobuf Message is reported as damaged, once, with no promise that it comes again.
 */
import { create } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  mediaMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import type { MediaRef } from "../../../src/gatekeeper/content/index.js";
import { encryptMedia } from "../../../src/gatekeeper/media/index.js";
import { MessageSchema } from "../../../src/gen/gki_pb.js";
import type { Message } from "../../../src/gen/gki_pb.js";
import type { MatrixEvent } from "../../harness/matrix-user.js";
import type { MatrixActor } from "../bridge/matrix-actor.js";
import type { NativeActor } from "../bridge/native-actor.js";
import { MediaWorld, randomFile } from "../bridge-media/media-world.js";

const LEFT_OUT = "which the bridge left out: a message should carry one thing at a time.";

describe("a contact's content that no honest app sends", () => {
  let w: MediaWorld;
  let alice: MatrixActor;
  let bob: NativeActor;
  let portal: string;
  let aliceJid: string;
  let carol: NativeActor;
  let carolPortal: string;

  beforeAll(async () => {
    w = await MediaWorld.create("hostile-content");
    await w.startBridge();
    ({ alice, bob, portal, aliceJid } = await w.aliceChattingWithBob());
    carol = await w.world.nativeUser("Carol");
    await carol.send(aliceJid, "Carol here");
    carolPortal = await alice.acceptPortalInvite();
    await alice.waitForPuppetText(carolPortal, "Carol here");
  }, 60_000);

  /** How long a message from Carol, an unrelated contact, takes to reach Alice now. */
  async function carolDelayMs(): Promise<number> {
    const marker = `carol ${Date.now()}`;
    const sent = Date.now();
    await carol.send(aliceJid, marker);
    await alice.waitForPuppetText(carolPortal, marker, 20_000);
    return Date.now() - sent;
  }

  afterAll(async () => {
    await w?.close();
  });

  const isPuppet = (e: MatrixEvent): boolean => w.world.identity.isPuppet(e.getSender() ?? "");

  /** Bob writes `text`; resolves once Alice sees it, with both ids. */
  async function bobSays(text: string): Promise<{ eventId: string; remoteId: string }> {
    const { id } = await bob.client.sendMessage(aliceJid, textMessage(text));
    const event = await alice.waitForPuppetText(portal, text);
    return { eventId: event.getId()!, remoteId: id };
  }

  /** Bob's own earlier message, as his deletions and reactions name it. */
  const own = (remoteId: string) => ({ id: remoteId, fromMe: true, remoteJid: aliceJid });

  /** Whether the server has `eventId` redacted, and the reactions to it. */
  async function stateOf(eventId: string): Promise<{ redacted: boolean; reactions: string[] }> {
    const history = await alice.history(portal);
    const event = history.find((e) => e.event_id === eventId);
    const redacted = event?.unsigned?.redacted_because !== undefined;
    const reactions = history
      .filter((e) => e.type === "m.reaction")
      .filter((e) => JSON.stringify(e.content).includes(eventId))
      .map((e) => String((e.content?.["m.relates_to"] as { key?: string } | undefined)?.key));
    return { redacted, reactions };
  }

  /** A real image on the gatekeeper's media host, as Bob's app uploads one. */
  async function uploadedImage(caption: string): Promise<Message> {
    const photo = randomFile(5_000);
    const encrypted = encryptMedia(photo, "image");
    const uploaded = await bob.client.uploadMedia(encrypted.blob);
    return mediaMessage(
      "image",
      {
        url: uploaded.url,
        directPath: uploaded.directPath,
        mediaKey: encrypted.mediaKey,
        fileSha256: encrypted.fileSha256,
        fileEncSha256: encrypted.fileEncSha256,
        fileLength: encrypted.fileLength,
        mimetype: "image/jpeg",
      },
      { caption },
    );
  }

  /** Media that is never fetched: it is not what the message is shown as. */
  const elsewhere: MediaRef = {
    url: "https://media.example/never-fetched",
    mediaKey: new Uint8Array(32).fill(1),
    fileSha256: new Uint8Array(32).fill(2),
    fileEncSha256: new Uint8Array(32).fill(3),
    fileLength: 1234,
    mimetype: "application/octet-stream",
  };

  it("every field set: Alice sees the image and a notice of the rest; nothing is deleted", async () => {
    const target = await bobSays("keep me");
    const image = await uploadedImage("the view");
    const everything = create(MessageSchema, {
      conversation: "plain text",
      extendedTextMessage: { text: "extended text" },
      imageMessage: image.imageMessage,
      videoMessage: mediaMessage("video", elsewhere).videoMessage,
      audioMessage: mediaMessage("audio", elsewhere).audioMessage,
      documentMessage: mediaMessage("document", elsewhere, { fileName: "x.pdf" }).documentMessage,
      protocolMessage: revokeMessage(own(target.remoteId)).protocolMessage,
      reactionMessage: reactionMessage(own(target.remoteId), "😈").reactionMessage,
    });
    await bob.client.sendMessage(aliceJid, everything);
    const carolMs = await carolDelayMs();
    process.stdout.write(`every-field attack: unrelated contact's message took ${carolMs} ms\n`);

    const shown = await alice.waitForMessage(
      portal,
      (e) => isPuppet(e) && e.getContent().msgtype === "m.image",
    );
    expect(shown.getContent().body).toBe("the view");
    // Needs the core to post RemoteMessage.notShown (relay-in).
    const notice = await alice.noticeAfter(portal, shown.getId()!);
    expect(notice.getContent().body).toBe(
      `This message also carried a deletion, a reaction, a video, an audio file, a file and a text, ${LEFT_OUT}`,
    );

    // Everything Bob's message carried has been handled once a later message is through.
    await bobSays("after everything");
    expect(await stateOf(target.eventId)).toEqual({ redacted: false, reactions: [] });
  });

  it("a deletion sent with text shows the text and deletes nothing", async () => {
    const target = await bobSays("still here");
    const smuggled = create(MessageSchema, {
      conversation: "nothing to see",
      protocolMessage: revokeMessage(own(target.remoteId)).protocolMessage,
    });
    await bob.client.sendMessage(aliceJid, smuggled);
    const text = await alice.waitForPuppetText(portal, "nothing to see");
    // Needs the core to post RemoteMessage.notShown (relay-in).
    const notice = await alice.noticeAfter(portal, text.getId()!);
    expect(notice.getContent().body).toBe(`This message also carried a deletion, ${LEFT_OUT}`);
    await bobSays("after the smuggled deletion");
    expect((await stateOf(target.eventId)).redacted).toBe(false);

    // The same deletion alone does delete: the one above was refused, not mistargeted.
    await bob.client.sendMessage(aliceJid, revokeMessage(own(target.remoteId)));
    await bobSays("after the real deletion");
    expect((await stateOf(target.eventId)).redacted).toBe(true);
  });

  it("a deletion and a reaction with nothing to show: a notice, and neither is applied", async () => {
    const target = await bobSays("mine to keep");
    const conflicting = create(MessageSchema, {
      protocolMessage: revokeMessage(own(target.remoteId)).protocolMessage,
      reactionMessage: reactionMessage(own(target.remoteId), "🔥").reactionMessage,
    });
    await bob.client.sendMessage(aliceJid, conflicting);
    const notice = await alice.noticeAfter(portal, target.eventId);
    expect(notice.getContent().body).toBe(
      "sent a malformed message: it carried a deletion and a reaction at once, so the bridge applied none of it",
    );
    expect(isPuppet(notice)).toBe(true);
    await bobSays("after the malformed one");
    expect(await stateOf(target.eventId)).toEqual({ redacted: false, reactions: [] });
  });

  it("content that is not a protobuf Message is reported as damaged, once", async () => {
    const marker = await bobSays("before the damaged one");
    // A field whose length prefix promises 5 bytes that never come: the Message cannot be
    // parsed, though it is encrypted and delivered like any other.
    const damaged = create(MessageSchema, { conversation: "you will not see this" });
    damaged.$unknown = [{ no: 99, wireType: WireType.LengthDelimited, data: Uint8Array.of(5) }];
    await bob.client.sendMessage(aliceJid, damaged);

    // Needs the core to word onUndecryptable's "damaged" reason (bridge-core).
    const notice = await alice.noticeAfter(portal, marker.eventId);
    const body = String(notice.getContent().body);
    expect(body).toContain("arrived damaged");
    // No retry was asked for (§8.3): the notice must not promise that the message comes again.
    expect(body).not.toContain("asked their app");

    await bobSays("after the damaged one");
    const after = alice.noticesAfter(portal, marker.eventId);
    expect(after.filter((b) => b.includes("damaged") || b.includes("decrypted"))).toHaveLength(1);
    const bodies = await alice.bodiesFrom(portal, w.world.identity.isPuppet);
    expect(bodies).not.toContain("you will not see this");
  });
});
