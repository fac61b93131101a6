/**
 * Scenario 2, shared by chat.test.ts (SQLite) and postgres.test.ts: a Matrix user and a
 * native gatekeeper user chat with formatted text, emotes and notices, and each sees the
 * other's formatting in their own app's terms (Matrix HTML ⇄ the gatekeeper's markup).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeWorld } from "./fixture.js";
import type { DatabaseChoice } from "./fixture.js";
import type { MatrixActor } from "./matrix-actor.js";
import type { NativeActor } from "./native-actor.js";
import { textOf } from "./native-actor.js";

export interface ScenarioDatabase {
  choice: DatabaseChoice;
  /** Rows in the bridge's message map (Matrix event ↔ gatekeeper message), read directly. */
  messageMapRows(): Promise<number>;
  /** Removes what the scenario left in the database. */
  drop(): Promise<void>;
}

const HTML = "org.matrix.custom.html";

/** `database(dir)`: the bridge's database for a world whose files are in `dir`. */
export function chatScenario(
  label: string,
  database: (dir: string) => Promise<ScenarioDatabase>,
): void {
  describe(`chat with formatted text both ways (${label})`, () => {
    let w: BridgeWorld;
    let db: ScenarioDatabase | undefined;
    let alice: MatrixActor;
    let bob: NativeActor;
    let portal: string;
    let aliceJid: string;

    beforeAll(async () => {
      w = await BridgeWorld.create(`chat-${label}`);
      db = await database(w.dir);
      await w.startBridge({ database: db.choice });
      alice = await w.matrixUser("alice");
      bob = await w.nativeUser("Bob");
      const alicePhone = w.newPhone();
      const mgmt = await alice.openManagementRoom();
      await alice.login(mgmt, alicePhone, w.codeFor);
      portal = await alice.startChat(mgmt, bob.phone);
      aliceJid = (await bob.lookup(alicePhone))!;
    }, 60_000);

    afterAll(async () => {
      await w?.close();
      await db?.drop();
    });

    /** Alice sends `content` in the portal; resolves with what Bob's app shows. */
    async function aliceSends(content: Record<string, unknown>, fence: string): Promise<string> {
      const before = bob.received.length;
      await alice.send(portal, content);
      const end = await bob.waitFor(
        (m) => bob.received.indexOf(m) >= before && textOf(m).endsWith(fence),
        fence,
      );
      return textOf(end);
    }

    it("opens the chat as a direct room with Bob's puppet, named after him", async () => {
      const room = alice.client.getRoom(portal)!;
      const puppet = room.getJoinedMembers().find((m) => w.identity.isPuppet(m.userId));
      expect(puppet?.name).toBe("Bob (Gatekeeper)");
      const bridgeInfo = room.currentState.getStateEvents("m.bridge");
      expect(bridgeInfo.map((e) => e.getContent().channel?.displayname)).toEqual(["Bob"]);
    });

    it("shows Bob Matrix formatting as the gatekeeper's markup", async () => {
      const text = await aliceSends(
        {
          msgtype: "m.text",
          body: "bold, italic, strike and x = 1\none\ntwo\nsee the docs",
          format: HTML,
          formatted_body:
            "<p><strong>bold</strong>, <em>italic</em>, <del>strike</del> and <code>x = 1</code></p>" +
            "<ul><li>one</li><li>two</li></ul>" +
            '<p>see <a href="https://example.org/docs">the docs</a></p>',
        },
        "(https://example.org/docs)",
      );
      expect(text).toBe(
        "*bold*, _italic_, ~strike~ and `x = 1`\n\n- one\n- two\n\nsee the docs (https://example.org/docs)",
      );
    });

    it("drops what is not text from Matrix HTML (scripts, reply fallbacks)", async () => {
      const text = await aliceSends(
        {
          msgtype: "m.text",
          body: "hi there",
          format: HTML,
          formatted_body: "<b>hi</b> <script>alert(1)</script>there",
        },
        "there",
      );
      expect(text).toBe("*hi* there");
    });

    it("shows Alice Bob's markup as Matrix HTML, with the markup as the plain body", async () => {
      const markup =
        "*bold*, _italic_, ~strike~ and `x = 1`\n- one\n- two\nsee https://example.org/docs";
      await bob.send(aliceJid, markup);
      const event = await alice.waitForPuppetText(portal, markup);
      const content = event.getContent();
      expect(content.msgtype).toBe("m.text");
      expect(content.format).toBe(HTML);
      const html = String(content.formatted_body);
      expect(html).toContain(
        "<strong>bold</strong>, <em>italic</em>, <del>strike</del> and <code>x = 1</code>",
      );
      expect(html).toMatch(/<ul>\s*<li>one<\/li>\s*<li>two<\/li>\s*<\/ul>/);
      expect(html).toContain('see <a href="https://example.org/docs">https://example.org/docs</a>');
    });

    it("escapes HTML that Bob types, so it shows as text", async () => {
      const typed = "<img src=x onerror=alert(1)> & *hi*";
      await bob.send(aliceJid, typed);
      const content = (await alice.waitForPuppetText(portal, typed)).getContent();
      expect(content.formatted_body).toBe(
        "&lt;img src=x onerror=alert(1)&gt; &amp; <strong>hi</strong>",
      );
    });

    it("sends Alice's emote as /me and her notice as plain text", async () => {
      expect(await aliceSends({ msgtype: "m.emote", body: "waves" }, "waves")).toBe("/me waves");
      expect(
        await aliceSends(
          { msgtype: "m.emote", body: "waves", format: HTML, formatted_body: "<em>waves</em>" },
          "waves_",
        ),
      ).toBe("/me _waves_");
      expect(
        await aliceSends({ msgtype: "m.notice", body: "automatic reply" }, "automatic reply"),
      ).toBe("automatic reply");
    });

    it("shows Bob's /me as an emote", async () => {
      await bob.send(aliceJid, "/me waves back");
      const event = await alice.waitForMessage(
        portal,
        (e) => w.identity.isPuppet(e.getSender() ?? "") && e.getContent().body === "waves back",
      );
      expect(event.getContent().msgtype).toBe("m.emote");
    });

    it("keeps the order of a quick exchange on both sides", async () => {
      const before = bob.received.length;
      for (let i = 1; i <= 5; i++) {
        await alice.say(portal, `from alice ${i}`);
        await bob.send(aliceJid, `from bob ${i}`);
      }
      await alice.waitForPuppetText(portal, "from bob 5");
      await bob.waitForText("from alice 5");
      expect(bob.texts().slice(before)).toEqual([1, 2, 3, 4, 5].map((i) => `from alice ${i}`));
      const fromBob = await alice.bodiesFrom(portal, w.identity.isPuppet);
      expect(fromBob.filter((b) => b.startsWith("from bob"))).toEqual(
        [1, 2, 3, 4, 5].map((i) => `from bob ${i}`),
      );
    });

    it(`keeps the message map in ${label}`, async () => {
      // Every relayed message (both ways) has its row; the replies of the next issue need them.
      const relayed =
        bob.received.length + (await alice.bodiesFrom(portal, w.identity.isPuppet)).length;
      expect(await db!.messageMapRows()).toBe(relayed);
    });
  });
}
