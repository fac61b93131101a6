/**
 * Alice and the bridge bot, as both demo scripts start: she opens a direct chat with the bot,
 * logs in with her phone number and verifies with the code the sandbox "texted" her. Then
 * she sends commands there and the script waits for their answers.
 */
import type { MatrixEvent } from "../../test/harness/matrix-user.js";
import { sendText, waitForMembership, waitForRoomEvent } from "../../test/harness/matrix-user.js";
import type { Observers } from "./observers.js";
import { ALICE, spaced } from "./people.js";
import type { Stack } from "./stack.js";
import type { Transcript } from "./transcript.js";

/** How long one step (a reply, a relayed message) may take before the demo gives up. */
export const STEP_TIMEOUT_MS = 20_000;

export const BOT_DM = "Matrix: bot DM";
export const ALICE_PHONE = "Alice's phone";

export interface BotDm {
  roomId: string;
  /** Alice sends `text`; resolves with the bot's answer that contains `answer`. */
  command(text: string, answer: string): Promise<MatrixEvent>;
}

/** Alice opens her chat with the bot and logs in through it. */
export async function loginThroughBot(
  stack: Stack,
  t: Transcript,
  obs: Observers,
  onStep: (step: string) => void,
): Promise<BotDm> {
  const alice = stack.alice.client;
  const botReply = (roomId: string, contains: string): Promise<MatrixEvent> =>
    waitForRoomEvent(
      alice,
      (e) =>
        e.getRoomId() === roomId &&
        e.getSender() === stack.botMxid &&
        e.getContent().msgtype === "m.notice" &&
        String(e.getContent().body).includes(contains),
      STEP_TIMEOUT_MS,
    );

  const opening = `Alice opens a direct chat with the bridge bot ${stack.botMxid}`;
  onStep(opening);
  t.step(opening);
  const { room_id: roomId } = await alice.createRoom({
    is_direct: true,
    invite: [stack.botMxid],
    preset: "trusted_private_chat" as never,
  });
  obs.rooms.set(roomId, BOT_DM);
  await waitForMembership(alice, roomId, stack.botMxid, "join", STEP_TIMEOUT_MS);
  await botReply(roomId, "management room");

  const command = async (text: string, answer: string): Promise<MatrixEvent> => {
    onStep(`waiting for the bot's answer to \`${text}\``);
    const reply = botReply(roomId, answer);
    t.say(BOT_DM, "Alice", text);
    await sendText(alice, roomId, text);
    return reply;
  };

  await command(`login ${spaced(ALICE.phone)}`, "-digit code");
  // The sandbox keeps the codes it "texted"; this is Alice reading her phone.
  const { code } = await stack.sandbox.admin.latestCode(ALICE.phone);
  t.say(ALICE_PHONE, "SMS", `Your Gatekeeper code is ${code}`);
  await command(`verify ${code}`, "You are logged in");
  return { roomId, command };
}
