/**
 * Replies, edits, deletions and reactions both ways, end to end: a Matrix user (matrix-js-sdk)
 * and a native gatekeeper user (the gatekeeper's own client, building its messages with
 * src/gatekeeper/content) each see what the other did as their own app shows it, related
 * to the right message. Relations to messages the bridge never saw are handled gracefully.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent } from "../../../src/gatekeeper/client/index.js";
import {
  describeContent,
  editMessage,
  reactionMessage,
  revokeMessage,
  textMessage,
} from "../../../src/gatekeeper/content/index.js";
import type { Message } from "../../../src/gen/gki_pb.js";
import { waitForRoomEvent } from "../../harness/matrix-user.js";
import type { MatrixEvent } from "../../harness/matrix-user.js";
import { BridgeWorld } from "../bridge/fixture.js";
import type { MatrixActor } from "../bridge/matrix-actor.js";
import { WAIT_MS } from "../bridge/matrix-actor.js";
import type { NativeActor } from "../bridge/native-actor.js";
import { textOf } from "../bridge/native-actor.js";

/** Short, so the test can outwait it; long enough for an edit right after a message. */
const EDIT_WINDOW_SECONDS = 10;
const UNKNOWN_REMOTE_ID = "3EB0FFFFFFFFFFFFFFFF";

interface Bridged {
  /** The Matrix event. */
  eventId: string;
  /** The gatekeeper message id. */
  remoteId: string;
}

describe("replies, edits, deletions and reactions both ways", () => {
  let w: BridgeWorld;
  let alice: MatrixActor;
  let bob: NativeActor;
  let portal: string;
  let aliceJid: string;
  /** Sent first, edited last: by then it is older than the edit window. */
  let old: Bridged;
  let oldReceivedAt: number;

  beforeAll(async () => {
    w = await BridgeWorld.create("rich");
    await w.startBridge({ editWindowSeconds: EDIT_WINDOW_SECONDS, messageStatusEvents: true });
    alice = await w.matrixUser("alice");
    bob = await w.nativeUser("Bob");
    const alicePhone = w.newPhone();
    const mgmt = await alice.openManagementRoom();
    await alice.login(mgmt, alicePhone, w.codeFor);
    portal = await alice.startChat(mgmt, bob.phone);
    aliceJid = (await bob.lookup(alicePhone))!;
    old = await aliceSays("this one will be too old to edit");
    oldReceivedAt = Date.now();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  // ------------------------------------------------------------------ helpers

  const isPuppet = (e: MatrixEvent): boolean => w.identity.isPuppet(e.getSender() ?? "");

  /** Alice writes `body`; resolves once Bob has it. */
  async function aliceSays(body: string): Promise<Bridged> {
    const eventId = await alice.say(portal, body);
    const m = await bob.waitForText(body);
    return { eventId, remoteId: m.id };
  }

  /** Bob sends `content`; resolves with its id once it is sent. */
  async function bobSends(content: Message): Promise<string> {
    return (await bob.client.sendMessage(aliceJid, content)).id;
  }

  /** Bob writes `text`; resolves once Alice sees it from his puppet. */
  async function bobSays(text: string): Promise<Bridged> {
    const remoteId = await bobSends(textMessage(text));
    const event = await alice.waitForPuppetText(portal, text);
    return { eventId: event.getId()!, remoteId };
  }

  /** The first message Bob received after the first `skip` ones that `match` accepts. */
  function bobGets(what: string, match: (m: MessageEvent) => boolean, skip: number) {
    return bob.waitFor((m) => bob.received.indexOf(m) >= skip && match(m), what);
  }

  /** An event in the portal (as Alice's client has it) that `match` accepts. */
  function aliceSees(match: (e: MatrixEvent) => boolean): Promise<MatrixEvent> {
    return waitForRoomEvent(alice.client, (e) => e.getRoomId() === portal && match(e), WAIT_MS);
  }

  /** Resolves with who redacted `eventId` once the server says it is redacted. */
  async function redactedBy(eventId: string): Promise<string> {
    const end = Date.now() + WAIT_MS;
    for (;;) {
      const raw = await alice.client.fetchRoomEvent(portal, eventId);
      const because = (raw.unsigned as { redacted_because?: { sender?: string } } | undefined)
        ?.redacted_because;
      if (because?.sender) return because.sender;
      if (Date.now() > end) throw new Error(`${eventId} was not redacted in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function aliceReacts(target: string, key: string): Promise<string> {
    const res = await alice.client.sendEvent(
      portal,
      "m.reaction" as never,
      {
        "m.relates_to": { rel_type: "m.annotation", event_id: target, key },
      } as never,
    );
    return res.event_id;
  }

  /** Alice edits `target` to `body`; resolves with the edit's event id. */
  function aliceEdits(target: string, body: string): Promise<string> {
    return alice.send(portal, {
      msgtype: "m.text",
      body: `* ${body}`,
      "m.new_content": { msgtype: "m.text", body },
      "m.relates_to": { rel_type: "m.replace", event_id: target },
    });
  }

  function sendStatus(eventId: string): Promise<MatrixEvent> {
    return aliceSees(
      (e) =>
        e.getType() === "com.beeper.message_send_status" &&
        e.getContent()["m.relates_to"]?.event_id === eventId,
    );
  }

  /** The portal's creation event: a real event the bridge never bridged. */
  function unbridgedEventId(): string {
    return alice.client.getRoom(portal)!.currentState.getStateEvents("m.room.create", "")!.getId()!;
  }

  // ------------------------------------------------------------------ replies

  it("a Matrix reply reaches Bob quoting the message, its author and its text", async () => {
    const question = await bobSays("what time is the train?");
    const skip = bob.received.length;
    // As a client from before spec v1.13 sends it: with the reply fallback, which must go.
    await alice.send(portal, {
      msgtype: "m.text",
      body: "> <@bob> what time is the train?\n\nat noon",
      format: "org.matrix.custom.html",
      formatted_body: `<mx-reply><blockquote>what time is the train?</blockquote></mx-reply>at <b>noon</b>`,
      "m.relates_to": { "m.in_reply_to": { event_id: question.eventId } },
    });
    const reply = await bobGets("the reply", (m) => textOf(m) === "at *noon*", skip);
    const kind = describeContent(reply.content);
    expect(kind.kind === "text" && kind.contextInfo).toMatchObject({
      stanzaId: question.remoteId,
      participant: bob.jid,
    });
    const quoted = kind.kind === "text" ? kind.contextInfo?.quotedMessage : undefined;
    expect(quoted && describeContent(quoted)).toEqual({
      kind: "text",
      text: "what time is the train?",
    });
  });

  it("Bob's reply shows in Matrix as a reply to Alice's event, without a body fallback", async () => {
    const lunch = await aliceSays("lunch at one?");
    await bobSends(
      textMessage("sure", {
        contextInfo: {
          stanzaId: lunch.remoteId,
          participant: aliceJid,
          quotedMessage: textMessage("lunch at one?"),
        },
      }),
    );
    const reply = await alice.waitForPuppetText(portal, "sure");
    expect(reply.getContent()["m.relates_to"]).toEqual({
      "m.in_reply_to": { event_id: lunch.eventId },
    });
    expect(reply.getContent().formatted_body ?? "").not.toContain("mx-reply");
  });

  it("replies to messages the bridge never saw arrive as plain messages", async () => {
    await bobSends(
      textMessage("indeed", {
        contextInfo: {
          stanzaId: UNKNOWN_REMOTE_ID,
          participant: aliceJid,
          quotedMessage: textMessage("something from last year"),
        },
      }),
    );
    const shown = await aliceSees(
      (e) => isPuppet(e) && String(e.getContent().body).endsWith("indeed"),
    );
    expect(shown.getContent().body).toBe("> something from last year\nindeed");
    expect(shown.getContent()["m.relates_to"]).toBeUndefined();

    const skip = bob.received.length;
    await alice.send(portal, {
      msgtype: "m.text",
      body: "about that",
      "m.relates_to": { "m.in_reply_to": { event_id: unbridgedEventId() } },
    });
    const plain = await bobGets("the reply", (m) => textOf(m) === "about that", skip);
    expect(describeContent(plain.content)).toEqual({ kind: "text", text: "about that" });
  });

  // ------------------------------------------------------------------ edits

  it("Alice's edit reaches Bob as an edit of the original message", async () => {
    const original = await aliceSays("see you at 5");
    const skip = bob.received.length;
    const edit = await aliceEdits(original.eventId, "see you at 6");
    const got = await bobGets("the edit", (m) => describeContent(m.content).kind === "edit", skip);
    expect(describeContent(got.content)).toMatchObject({
      kind: "edit",
      key: { id: original.remoteId, fromMe: true },
      newContent: { kind: "text", text: "see you at 6" },
    });
    expect((await sendStatus(edit)).getContent().status).toBe("SUCCESS");
  });

  it("Bob's edit replaces his message in Matrix", async () => {
    const original = await bobSays("meet at the stattion");
    await bobSends(
      editMessage(
        { id: original.remoteId, fromMe: true, remoteJid: aliceJid },
        textMessage("meet at the *station*"),
      ),
    );
    const edit = await aliceSees(
      (e) => isPuppet(e) && e.getContent()["m.relates_to"]?.rel_type === "m.replace",
    );
    const content = edit.getContent();
    expect(content["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: original.eventId });
    expect(content.body).toBe("* meet at the *station*");
    expect(content["m.new_content"]).toMatchObject({
      msgtype: "m.text",
      body: "meet at the *station*",
      formatted_body: "meet at the <strong>station</strong>",
    });
  });

  it("an edit of a message that was never bridged is refused with a notice", async () => {
    const edit = await aliceEdits(unbridgedEventId(), "changed my mind");
    const notice = await alice.noticeAfter(portal, edit);
    expect(notice.getContent().body).toContain("could not be edited on Gatekeeper");
    expect((await sendStatus(edit)).getContent().status).toBe("FAIL_PERMANENT");
  });

  // ------------------------------------------------------------------ deletions

  it("Alice's redaction deletes her message for Bob", async () => {
    const oops = await aliceSays("oops, wrong chat");
    const skip = bob.received.length;
    await alice.client.redactEvent(portal, oops.eventId);
    const revoke = await bobGets(
      "the deletion",
      (m) => describeContent(m.content).kind === "revoke",
      skip,
    );
    expect(describeContent(revoke.content)).toMatchObject({
      kind: "revoke",
      key: { id: oops.remoteId, fromMe: true },
    });
  });

  it("Bob's deletion redacts his message in Matrix, as his puppet", async () => {
    const secret = await bobSays("the code is 1234");
    await bobSends(revokeMessage({ id: secret.remoteId, fromMe: true, remoteJid: aliceJid }));
    const by = await redactedBy(secret.eventId);
    expect(w.identity.isPuppet(by)).toBe(true);
  });

  // ------------------------------------------------------------------ reactions

  it("Alice's reactions reach Bob: added, replaced (one per person), removed", async () => {
    const pizza = await bobSays("pizza tonight?");
    const reactionsOf = (skip: number, what: string) =>
      bobGets(what, (m) => describeContent(m.content).kind === "reaction", skip);

    let skip = bob.received.length;
    const thumbs = await aliceReacts(pizza.eventId, "👍");
    expect(describeContent((await reactionsOf(skip, "👍")).content)).toMatchObject({
      kind: "reaction",
      key: { id: pizza.remoteId, fromMe: false },
      emoji: "👍",
    });

    skip = bob.received.length;
    const heart = await aliceReacts(pizza.eventId, "❤️");
    expect(describeContent((await reactionsOf(skip, "❤️")).content)).toMatchObject({
      key: { id: pizza.remoteId },
      emoji: "❤️",
    });
    // The gatekeeper keeps one reaction per person: the bridge takes the older one away.
    expect(await redactedBy(thumbs)).toBe(w.botMxid);

    skip = bob.received.length;
    await alice.client.redactEvent(portal, heart);
    expect(describeContent((await reactionsOf(skip, "the removal")).content)).toMatchObject({
      key: { id: pizza.remoteId },
      emoji: "",
    });
  });

  it("Bob's reactions show in Matrix: added, replaced, removed", async () => {
    const exam = await aliceSays("I passed the exam");
    const key = { id: exam.remoteId, fromMe: false, remoteJid: aliceJid };
    const reaction = (emoji: string) =>
      aliceSees(
        (e) =>
          isPuppet(e) &&
          e.getType() === "m.reaction" &&
          e.getContent()["m.relates_to"]?.key === emoji,
      );

    await bobSends(reactionMessage(key, "🎉"));
    const party = await reaction("🎉");
    expect(party.getContent()["m.relates_to"]).toEqual({
      rel_type: "m.annotation",
      event_id: exam.eventId,
      key: "🎉",
    });

    await bobSends(reactionMessage(key, "👏"));
    const clap = await reaction("👏");
    expect(clap.getContent()["m.relates_to"]?.event_id).toBe(exam.eventId);
    expect(w.identity.isPuppet(await redactedBy(party.getId()!))).toBe(true);

    await bobSends(reactionMessage(key, ""));
    expect(w.identity.isPuppet(await redactedBy(clap.getId()!))).toBe(true);
  });

  it("a reaction to a message the bridge never saw is dropped, nothing else", async () => {
    await bobSends(
      reactionMessage({ id: UNKNOWN_REMOTE_ID, fromMe: false, remoteJid: aliceJid }, "🤷"),
    );
    await bobSays("after the shrug");
    const history = await alice.history(portal);
    expect(
      history.filter((e) => e.type === "m.reaction" && JSON.stringify(e).includes("🤷")),
    ).toEqual([]);
  });

  // ------------------------------------------------------------------ the edit window

  it("an edit after the edit window is refused with a notice and not sent", async () => {
    const wait = oldReceivedAt + (EDIT_WINDOW_SECONDS + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const skip = bob.received.length;
    const edit = await aliceEdits(old.eventId, "too late");
    const notice = await alice.noticeAfter(portal, edit);
    expect(notice.getContent().body).toBe(
      `Your message could not be edited on Gatekeeper: Gatekeeper allows edits only within ` +
        `${EDIT_WINDOW_SECONDS} seconds of sending.`,
    );
    expect((await sendStatus(edit)).getContent().status).toBe("FAIL_PERMANENT");
    // Nothing went out: the next thing Bob gets is Alice's next message.
    await aliceSays("fence");
    expect(bob.received.slice(skip).map((m) => describeContent(m.content).kind)).toEqual(["text"]);
  }, 30_000);
});
