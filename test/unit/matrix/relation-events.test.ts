import { describe, expect, it } from "vitest";
import { matrixToMarkup, markupToMatrix } from "../../../src/matrix/formatting/index.js";
import {
  classifyRelation,
  quotableText,
  relationEvent,
} from "../../../src/matrix/relation-events.js";

const base = { roomId: "!r:x", eventId: "$new", sender: "@alice:x", timestamp: 1 };

describe("Matrix relations → the core", () => {
  it("reads a reaction's target and key", () => {
    const got = classifyRelation(
      "m.reaction",
      base,
      {},
      { "m.relates_to": { rel_type: "m.annotation", event_id: "$msg", key: "👍" } },
      matrixToMarkup,
    );
    expect(got).toEqual({
      ...base,
      body: "",
      content: { kind: "reaction", target: { id: "$msg" }, emoji: "👍" },
    });
  });

  it("reads a redaction's target from the content (room v11) or the event (older rooms)", () => {
    const v11 = classifyRelation("m.room.redaction", base, {}, { redacts: "$a" }, matrixToMarkup);
    const v10 = classifyRelation("m.room.redaction", base, { redacts: "$b" }, {}, matrixToMarkup);
    expect(v11 !== "malformed" && v11?.content).toEqual({ kind: "delete", target: { id: "$a" } });
    expect(v10 !== "malformed" && v10?.content).toEqual({ kind: "delete", target: { id: "$b" } });
  });

  it("takes an edit's new text from m.new_content, as markup, keeping an emote", () => {
    const got = classifyRelation(
      "m.room.message",
      base,
      {},
      {
        msgtype: "m.emote",
        body: "* waves *happily*",
        "m.new_content": {
          msgtype: "m.emote",
          body: "waves happily",
          format: "org.matrix.custom.html",
          formatted_body: "waves <b>happily</b>",
        },
        "m.relates_to": { rel_type: "m.replace", event_id: "$old" },
      },
      matrixToMarkup,
    );
    expect(got !== "malformed" && got?.content).toEqual({
      kind: "edit",
      target: { id: "$old" },
      text: "waves *happily*",
      style: "emote",
    });
  });

  it("calls an edit of a non-text message unsupported, and incomplete relations malformed", () => {
    const media = classifyRelation(
      "m.room.message",
      base,
      {},
      {
        msgtype: "m.image",
        body: "* new caption",
        "m.new_content": { msgtype: "m.image", body: "new caption" },
        "m.relates_to": { rel_type: "m.replace", event_id: "$img" },
      },
      matrixToMarkup,
    );
    expect(media !== "malformed" && media?.content.kind).toBe("unsupported");
    expect(classifyRelation("m.reaction", base, {}, {}, matrixToMarkup)).toBe("malformed");
    expect(classifyRelation("m.room.redaction", base, {}, {}, matrixToMarkup)).toBe("malformed");
    expect(classifyRelation("m.room.message", base, {}, { body: "hi" }, matrixToMarkup)).toBe(
      undefined,
    );
  });
});

describe("the core's relations → Matrix events", () => {
  it("makes a reaction an m.annotation", () => {
    expect(
      relationEvent({ kind: "reaction", target: { id: "$m" }, emoji: "🎉" }, markupToMatrix),
    ).toEqual({
      type: "m.reaction",
      content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$m", key: "🎉" } },
    });
  });

  it("makes an edit an m.replace with m.new_content and a '* ' fallback", () => {
    const got = relationEvent(
      { kind: "edit", target: { id: "$m" }, text: "meet at *noon*" },
      markupToMatrix,
    );
    expect(got).toEqual({
      type: "m.room.message",
      content: {
        msgtype: "m.text",
        body: "* meet at *noon*",
        format: "org.matrix.custom.html",
        formatted_body: "* meet at <strong>noon</strong>",
        "m.mentions": {},
        "m.new_content": {
          msgtype: "m.text",
          body: "meet at *noon*",
          format: "org.matrix.custom.html",
          formatted_body: "meet at <strong>noon</strong>",
          "m.mentions": {},
        },
        "m.relates_to": { rel_type: "m.replace", event_id: "$m" },
      },
    });
    expect(relationEvent({ kind: "text", text: "hi" }, markupToMatrix)).toBeUndefined();
  });
});

describe("the text of a replied-to event, for the quote", () => {
  const msg = (content: Record<string, unknown>, unsigned?: Record<string, unknown>) => ({
    type: "m.room.message",
    content,
    ...(unsigned ? { unsigned } : {}),
  });

  it("is the markup of a text message, without its own reply fallback", () => {
    expect(
      quotableText(
        msg({
          msgtype: "m.text",
          body: "> <@bob:x> earlier\n\nmy *answer*",
          format: "org.matrix.custom.html",
          formatted_body: "<mx-reply><blockquote>earlier</blockquote></mx-reply>my <em>answer</em>",
          "m.relates_to": { "m.in_reply_to": { event_id: "$e" } },
        }),
        matrixToMarkup,
      ),
    ).toBe("my _answer_");
  });

  it("is the latest edit when the server bundles one, a caption for media, else nothing", () => {
    const edited = msg(
      { msgtype: "m.text", body: "old" },
      {
        "m.relations": {
          "m.replace": { content: { "m.new_content": { msgtype: "m.text", body: "new" } } },
        },
      },
    );
    expect(quotableText(edited, matrixToMarkup)).toBe("new");
    expect(
      quotableText(msg({ msgtype: "m.image", body: "look!", filename: "a.jpg" }), matrixToMarkup),
    ).toBe("look!");
    expect(
      quotableText(msg({ msgtype: "m.image", body: "a.jpg" }), matrixToMarkup),
    ).toBeUndefined();
    expect(quotableText(msg({}), matrixToMarkup)).toBeUndefined();
    expect(quotableText({ type: "m.reaction", content: {} }, matrixToMarkup)).toBeUndefined();
  });
});
