/**
 * A crash after the bot answered a command but before the intake marked the command done
 * makes the command run again on restart. Its answers are sent with transaction ids derived
 * from the command's event, so the homeserver hands back the first answers instead of
 * posting a second set.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/db/index.js";
import { BridgeWorld } from "./fixture.js";

describe("a command re-run after a crash is answered once", () => {
  let w: BridgeWorld;

  beforeAll(async () => {
    w = await BridgeWorld.create("command-replay");
    await w.startBridge();
  }, 60_000);

  afterAll(async () => {
    await w?.close();
  });

  it("re-running `ping` and `login` from the queue posts no second answer", async () => {
    const alice = await w.matrixUser("alice");
    const mgmt = await alice.openManagementRoom();
    const pingEvent = await alice.say(mgmt, "ping");
    await alice.noticeAfter(mgmt, pingEvent);
    const loginEvent = await alice.say(mgmt, `login ${w.newPhone()}`);
    const firstLoginAnswer = await alice.noticeAfter(mgmt, loginEvent);
    const before = (await alice.history(mgmt)).length;

    // What a crash between answering and marking done leaves behind: the commands still queued.
    await w.stopBridge();
    const db = await openDatabase({ type: "sqlite", filename: join(w.dir, "bridge.sqlite") });
    try {
      for (const eventId of [pingEvent, loginEvent]) {
        const raw = await alice.client.fetchRoomEvent(mgmt, eventId);
        const updated = await db("matrix_event_queue")
          .where({ event_id: eventId })
          .update({ state: "queued", json: JSON.stringify(raw), attempts: 0, next_attempt_at: 0 });
        expect(updated).toBe(1);
      }
    } finally {
      await db.destroy();
    }
    await w.startBridge();

    // The queue drains (both commands ran again: `login` now finds its code already requested)...
    await expect
      .poll(
        async () => {
          const check = await openDatabase({
            type: "sqlite",
            filename: join(w.dir, "bridge.sqlite"),
          });
          try {
            return await check("matrix_event_queue")
              .whereIn("event_id", [pingEvent, loginEvent])
              .andWhere({ state: "queued" })
              .count({ n: "*" })
              .first();
          } finally {
            await check.destroy();
          }
        },
        { timeout: 15_000, interval: 200 },
      )
      .toMatchObject({ n: 0 });
    // ...and a later command is answered after them, so anything they posted is visible now.
    const marker = await alice.say(mgmt, "ping");
    await alice.noticeAfter(mgmt, marker);

    const history = await alice.history(mgmt);
    const added = history.slice(before).filter((e) => e.event_id !== marker);
    const extraAnswers = added.filter(
      (e) => e.type === "m.room.message" && e.sender === w.botMxid && e.event_id !== marker,
    );
    // Only the marker's own answer is new: the re-runs' answers collapsed onto the first ones.
    expect(extraAnswers.map((e) => (e.content as { body?: string }).body)).toHaveLength(1);
    expect(history.filter((e) => e.event_id === firstLoginAnswer.getId())).toHaveLength(1);
  });
});
