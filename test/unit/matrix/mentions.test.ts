/**
 * Mentions on the Matrix side: a message's pills (and users m.mentions lists whose MXID the
 * plain text has) become spans of its markup for the core; spans the core resolved become
 * pills and m.mentions in what the bridge posts, captions of media too.
 */
import { describe, expect, it } from "vitest";
import type { BridgeContent } from "../../../src/core/content.js";
import { unboundSource } from "../../../src/core/media.js";
import { classifyEvent } from "../../../src/matrix/event-classifier.js";
import type { ClassifyContext } from "../../../src/matrix/event-classifier.js";
import {
  markupToMatrix,
  matrixToMarkup,
  matrixToMarkupWithMentions,
} from "../../../src/matrix/formatting/index.js";
import { mediaEventContent } from "../../../src/matrix/media-content.js";
import { messageContent } from "../../../src/matrix/room-content.js";

const BOT = "@gatekeeperbot:example.org";
const ALICE = "@alice:example.org";
const BEA = "@bea:example.org";
const CAROL = "@gk_482910375561204:example.org";

const ctx: ClassifyContext = {
  botMxid: BOT,
  isBridgeUser: (u) => u === BOT || u.startsWith("@gk_"),
  toMarkup: matrixToMarkup,
  toMarkupWithMentions: matrixToMarkupWithMentions,
};

let n = 0;
function classify(content: Record<string, unknown>): BridgeContent {
  const action = classifyEvent(
    {
      type: "m.room.message",
      event_id: `$m${++n}`,
      room_id: "!group:example.org",
      sender: ALICE,
      origin_server_ts: 1,
      content,
    },
    ctx,
  );
  if (action.kind !== "message") throw new Error(`not a message: ${JSON.stringify(action)}`);
  return action.message.content;
}

const pill = (mxid: string, text: string) => `<a href="https://matrix.to/#/${mxid}">${text}</a>`;

describe("Matrix → core", () => {
  it("a pill is a span of the markup naming its user", () => {
    const content = classify({
      msgtype: "m.text",
      body: "Carol: and Bea?",
      format: "org.matrix.custom.html",
      formatted_body: `${pill(CAROL, "Carol")}: and <b>${pill(BEA, "Bea")}</b>?`,
      "m.mentions": { user_ids: [CAROL, BEA] },
    });
    expect(content).toEqual({
      kind: "text",
      text: "Carol: and *Bea*?",
      matrixMentions: [
        { start: 0, end: 5, mxid: CAROL },
        { start: 12, end: 15, mxid: BEA },
      ],
    });
  });

  it("a user m.mentions lists without a pill is found where the plain text has their MXID", () => {
    const content = classify({
      msgtype: "m.text",
      body: `${BEA} look, @room`,
      "m.mentions": { user_ids: [BEA, "not an id"], room: true },
    });
    expect(content).toEqual({
      kind: "text",
      text: `${BEA} look, @room`,
      matrixMentions: [{ start: 0, end: BEA.length, mxid: BEA }],
    });
  });

  it("no pill and no listed user: no mentions", () => {
    expect(classify({ msgtype: "m.text", body: "hi Bea", "m.mentions": {} })).toEqual({
      kind: "text",
      text: "hi Bea",
    });
  });

  it("a caption's pills too", () => {
    const content = classify({
      msgtype: "m.image",
      body: "for Carol",
      filename: "a.png",
      format: "org.matrix.custom.html",
      formatted_body: `for ${pill(CAROL, "Carol")}`,
      url: "mxc://example.org/a",
      info: { mimetype: "image/png" },
    });
    expect(content).toMatchObject({
      kind: "image",
      caption: "for Carol",
      matrixMentions: [{ start: 4, end: 9, mxid: CAROL }],
    });
  });
});

describe("core → Matrix", () => {
  it("spans become pills, the names are in the body, and m.mentions lists the users", () => {
    const text = "@482910375561204 meet @matrix.bea";
    const body = messageContent(
      {
        kind: "text",
        text,
        matrixMentions: [
          { start: 0, end: 16, mxid: CAROL, name: "Carol" },
          { start: 22, end: 33, mxid: BEA, name: "Bea" },
        ],
        mentions: [CAROL, BEA],
      },
      markupToMatrix,
    );
    expect(body).toEqual({
      msgtype: "m.text",
      body: "@Carol meet @Bea",
      format: "org.matrix.custom.html",
      formatted_body: `${pill(CAROL, "Carol")} meet ${pill(BEA, "Bea")}`,
      "m.mentions": { user_ids: [CAROL, BEA] },
    });
  });

  it("a caption's spans become pills", () => {
    const out = mediaEventContent(
      {
        kind: "image",
        media: unboundSource({ uri: "mxc://x/y", mimetype: "image/png" }),
        caption: "for @482910375561204",
        matrixMentions: [{ start: 4, end: 20, mxid: CAROL, name: "Carol" }],
      },
      { url: "mxc://x/z" },
      markupToMatrix,
    );
    expect(out).toMatchObject({
      body: "for @Carol",
      formatted_body: `for ${pill(CAROL, "Carol")}`,
    });
  });
});
