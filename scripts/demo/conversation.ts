/**
 * The scripted conversation: Alice DMs the bot, logs in with the code the sandbox "texted"
 * her phone, starts a chat with Bob, accepts the invite, and both exchange formatted text.
 * Then the relay latency is measured with probe messages, one at a time, each way.
 */
import { MsgType } from "matrix-js-sdk";
import { textMessage } from "../../src/gatekeeper/content/index.js";
import { sendText, waitForInvite, waitForRoomEvent } from "../../test/harness/matrix-user.js";
import { ALICE_PHONE, BOT_DM, STEP_TIMEOUT_MS, loginThroughBot } from "./bot-dm.js";
import { Observers, gatekeeperText, matrixText, observing } from "./observers.js";
import { ALICE, BOB, spaced } from "./people.js";
import type { Stack } from "./stack.js";
import type { Transcript } from "./transcript.js";

export const WHERE = {
  botDm: BOT_DM,
  portal: "Matrix: chat with Bob",
  alicePhone: ALICE_PHONE,
  bobApp: "Bob's Gatekeeper app",
} as const;

export interface LatencyStats {
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface ConversationResult {
  dmRoomId: string;
  portalRoomId: string;
  latency: { matrixToGatekeeper: LatencyStats; gatekeeperToMatrix: LatencyStats };
  /** With keepObserving: stops printing what Alice and Bob receive. */
  stopObserving(): void;
}

export interface ConversationOptions {
  probes: number;
  onStep: (step: string) => void;
  /** Keep printing what Alice and Bob receive after the script (for --keep). */
  keepObserving?: boolean;
}

type Json = Record<string, unknown>;

export function stats(samplesMs: number[]): LatencyStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const medianMs = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { samplesMs, medianMs, minMs: sorted[0]!, maxMs: sorted[sorted.length - 1]! };
}

export async function playConversation(
  stack: Stack,
  t: Transcript,
  opts: ConversationOptions,
): Promise<ConversationResult> {
  const obs = new Observers(t, stack.alice.client, stack.bob.client, {
    bot: stack.botMxid,
    bobApp: WHERE.bobApp,
  });
  return observing(obs, opts.keepObserving, (o) => play(stack, t, o, opts));
}

async function play(
  stack: Stack,
  t: Transcript,
  obs: Observers,
  opts: ConversationOptions,
): Promise<Omit<ConversationResult, "stopObserving">> {
  const alice = stack.alice.client;
  const bob = stack.bob.client;
  const step = (what: string): void => {
    opts.onStep(what);
    t.step(what);
  };

  /** The room Alice and Bob chat in, and the id Alice's messages reach Bob from (set below). */
  let portal = "";
  let aliceJid = "";

  const aliceSays = async (roomId: string, content: Json): Promise<void> => {
    const { text, extra } = matrixText(content);
    t.say(obs.roomLabel(roomId), "Alice", text, extra);
    await alice.sendMessage(roomId, content as never);
  };
  /** Alice sends in the portal; resolves when Bob's app has it. */
  const toBob = async (content: Json): Promise<void> => {
    opts.onStep(`relaying Alice's "${String(content.body)}" to Bob's app`);
    const arrived = obs.gatekeeper.next(() => true, STEP_TIMEOUT_MS, "Bob's app to get it");
    await aliceSays(portal, content);
    await arrived;
  };
  /** Bob sends markup; resolves when Alice's client shows it. */
  const toAlice = async (text: string): Promise<void> => {
    opts.onStep(`relaying Bob's "${text}" to Alice's client`);
    const shown = obs.matrix.next(
      (a) => a.value.getRoomId() === portal && a.value.getContent().body === text,
      STEP_TIMEOUT_MS,
      "Alice's client to show it",
    );
    t.say(WHERE.bobApp, "Bob", text);
    await bob.sendMessage(aliceJid, textMessage(text));
    await shown;
  };

  // --- Alice finds the bot, logs in and starts a chat with Bob ----------------------------
  const bot = await loginThroughBot(stack, t, obs, opts.onStep);
  const dm = bot.roomId;
  const started = await bot.command(`start ${spaced(BOB.phone)}`, "Started a chat with");
  const link = /matrix\.to\/#\/(\S+)$/.exec(String(started.getContent().body));
  if (!link?.[1]) throw new Error("the bot's answer to `start` had no room link");
  portal = decodeURIComponent(link[1]);
  obs.rooms.set(portal, WHERE.portal);
  await waitForInvite(alice, (room) => room.roomId === portal, STEP_TIMEOUT_MS);
  const inviter = alice.getRoom(portal)?.getDMInviter() ?? "the puppet";
  step(`Alice was invited to ${portal} by ${inviter}; she accepts`);
  const joined = waitForRoomEvent(
    alice,
    (e) =>
      e.getRoomId() === portal &&
      e.getType() === "m.room.member" &&
      e.getStateKey() === alice.getSafeUserId() &&
      e.getContent().membership === "join",
    STEP_TIMEOUT_MS,
  );
  await alice.joinRoom(portal);
  await joined;

  // Bob's app knows Alice by her number: a lookup gives the id her messages come from.
  const [entry] = await bob.lookup([ALICE.phone]);
  if (!entry?.jid) throw new Error("Bob's app could not look up Alice's number");
  aliceJid = entry.jid;
  obs.contacts.set(aliceJid, "Alice");
  if (stack.terminal) obs.contacts.set(stack.terminal.jid, stack.terminal.name);
  step(`Bob's app looks up ${spaced(ALICE.phone)}: reachable (Alice, through the bridge)`);

  // --- text both ways, with formatting --------------------------------------------------
  await toBob({
    msgtype: MsgType.Text,
    body: "Hi Bob! This is **bold**, _italic_, ~~struck~~ and `code`.",
    format: "org.matrix.custom.html",
    formatted_body:
      "Hi Bob! This is <strong>bold</strong>, <em>italic</em>, <del>struck</del> and <code>code</code>.",
  });
  await toAlice("Hi _Alice_! *Bold* back, ~strike~ too, and a link: https://matrix.org");
  await toBob({
    msgtype: MsgType.Text,
    body: "> quoting you\nA list:\n- one\n- two",
    format: "org.matrix.custom.html",
    formatted_body:
      "<blockquote><p>quoting you</p></blockquote><p>A list:</p><ul><li>one</li><li>two</li></ul>",
  });
  await toBob({ msgtype: MsgType.Emote, body: "waves" });
  await toAlice("```\nnpm run demo\n```\n> a quote\n1. first\n2. second");

  await bot.command("status", "Logged in to");

  // --- latency ----------------------------------------------------------------------------
  step(`measuring relay latency: ${opts.probes} messages each way, one at a time (not shown)`);
  opts.onStep("measuring Matrix → gatekeeper latency");
  const out: number[] = [];
  for (let i = 1; i <= opts.probes; i++) {
    const text = `latency probe ${i}/${opts.probes} (Matrix → Gatekeeper)`;
    obs.quiet.add(text);
    const arrived = obs.gatekeeper.next(
      (a) => gatekeeperText(a.value) === text,
      STEP_TIMEOUT_MS,
      `probe ${i} in Bob's app`,
    );
    const sentAt = performance.now();
    await sendText(alice, portal, text);
    out.push((await arrived).at - sentAt);
  }
  opts.onStep("measuring gatekeeper → Matrix latency");
  const back: number[] = [];
  for (let i = 1; i <= opts.probes; i++) {
    const text = `latency probe ${i}/${opts.probes} (Gatekeeper → Matrix)`;
    obs.quiet.add(text);
    const shown = obs.matrix.next(
      (a) => a.value.getRoomId() === portal && a.value.getContent().body === text,
      STEP_TIMEOUT_MS,
      `probe ${i} in Alice's client`,
    );
    const sentAt = performance.now();
    await bob.sendMessage(aliceJid, textMessage(text));
    back.push((await shown).at - sentAt);
  }
  return {
    dmRoomId: dm,
    portalRoomId: portal,
    latency: { matrixToGatekeeper: stats(out), gatekeeperToMatrix: stats(back) },
  };
}
