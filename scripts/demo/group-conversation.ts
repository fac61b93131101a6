/**
 * The group script (`npm run demo -- --group`): Alice logs in through the bot and makes a
 * group with Bob and Carol (`group create`); then messages go every way (Alice to both apps,
 * Bob into the room as his puppet, Carol's reply to him, Carol's photo, Bob's reaction to
 * Alice), Alice renames the group from Matrix, and Carol leaves it and is added back when
 * Alice invites her puppet. Each step waits until the other side shows it, or fails the demo.
 */
import { Buffer } from "node:buffer";
import { MsgType } from "matrix-js-sdk";
import type { GatekeeperClient } from "../../src/gatekeeper/client/index.js";
import { mediaMessage, reactionMessage, textMessage } from "../../src/gatekeeper/content/index.js";
import { encryptMedia } from "../../src/gatekeeper/media/index.js";
import { waitForInvite, waitForRoomEvent } from "../../test/harness/matrix-user.js";
import type { MatrixClient, MatrixEvent, Room } from "../../test/harness/matrix-user.js";
import { STEP_TIMEOUT_MS, loginThroughBot } from "./bot-dm.js";
import { Observers, gatekeeperText, matrixText, observing } from "./observers.js";
import type { AppArrivals } from "./observers.js";
import { ALICE, BOB, CAROL, spaced } from "./people.js";
import type { Stack } from "./stack.js";
import type { Transcript } from "./transcript.js";

export const GROUP = { subject: "Hiking", renamed: "Hiking on Saturday" } as const;

export const GROUP_WHERE = {
  room: "Matrix: group room",
  bobApp: "Bob's app",
  carolApp: "Carol's app",
} as const;

export interface GroupConversationResult {
  dmRoomId: string;
  groupRoomId: string;
  /** With keepObserving: stops printing what Alice, Bob and Carol receive. */
  stopObserving(): void;
}

export interface GroupConversationOptions {
  onStep: (step: string) => void;
  /** Keep printing what the three receive after the script (for --keep). */
  keepObserving?: boolean;
}

/** A native member as the script drives it: their app, and where the transcript shows it. */
interface Member {
  client: GatekeeperClient;
  name: string;
  where: string;
}

/** A 1×1 PNG: the "photo" Carol shares (any bytes would do; these open as an image). */
const PHOTO = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

export async function playGroupConversation(
  stack: Stack,
  t: Transcript,
  opts: GroupConversationOptions,
): Promise<GroupConversationResult> {
  const obs = new Observers(t, stack.alice.client, stack.bob.client, {
    bot: stack.botMxid,
    bobApp: GROUP_WHERE.bobApp,
  });
  return observing(obs, opts.keepObserving, (o) => play(stack, t, o, opts));
}

async function play(
  stack: Stack,
  t: Transcript,
  obs: Observers,
  opts: GroupConversationOptions,
): Promise<Omit<GroupConversationResult, "stopObserving">> {
  const alice = stack.alice.client;
  const { bob } = stack;
  const carol = stack.carol;
  if (!carol) throw new Error("the group script needs Carol's app (startStack with group)");
  const bobApp = obs.bobApp;
  const carolApp = obs.watchApp(carol.client, GROUP_WHERE.carolApp);
  const W = GROUP_WHERE;
  const step = (what: string): void => {
    opts.onStep(what);
    t.step(what);
  };
  let room = "";
  let group = "";

  /** Resolves when `app` has a message of the group from `from` that reads `text`. */
  const inApp = (app: AppArrivals, who: string, from: string, text: string) =>
    app.messages.next(
      (a) => a.value.group === group && a.value.from === from && gatekeeperText(a.value) === text,
      STEP_TIMEOUT_MS,
      `"${text}" in ${who}'s app`,
    );
  /** Resolves with the event when Alice's client shows a message in the group's room. */
  const inRoom = (what: string, match: (e: MatrixEvent) => boolean) =>
    waitForRoomEvent(
      alice,
      (e) => e.getRoomId() === room && e.getSender() !== alice.getUserId() && match(e),
      STEP_TIMEOUT_MS,
    ).catch(() => Promise.reject(new Error(`Alice's client did not show ${what}`)));
  const bodyIs = (text: string) => (e: MatrixEvent) => e.getContent().body === text;
  const asBob: Member = { client: bob.client, name: BOB.name, where: `${W.bobApp}: group` };
  const asCarol: Member = { client: carol.client, name: CAROL.name, where: `${W.carolApp}: group` };
  /** A native sends a text to the group (maybe a reply); resolves with its message id. */
  const nativeSays = async (
    who: Member,
    text: string,
    reply?: { id: string; from: string; name: string },
  ): Promise<string> => {
    t.say(who.where, who.name, text, reply ? [`in reply to ${reply.name}`] : []);
    const context = reply ? { contextInfo: { stanzaId: reply.id, participant: reply.from } } : {};
    return (await who.client.groups.send(group, textMessage(text, context))).id;
  };

  // --- Alice logs in and makes the group ---------------------------------------------------
  const bot = await loginThroughBot(stack, t, obs, opts.onStep);
  // Each app knows the others by number: Alice's number is reachable through the bridge.
  const [entry] = await bob.client.lookup([ALICE.phone]);
  if (!entry?.jid) throw new Error("Bob's app could not look up Alice's number");
  const aliceJid = entry.jid;
  obs.contacts.set(aliceJid, "Alice").set(bob.jid, BOB.name).set(carol.jid, CAROL.name);
  if (stack.terminal) obs.contacts.set(stack.terminal.jid, stack.terminal.name);

  const named = (r: Room): boolean =>
    r.name === GROUP.subject ||
    r.currentState.getStateEvents("m.room.name", "")?.getContent().name === GROUP.subject;
  const invited = waitForInvite(alice, named, STEP_TIMEOUT_MS);
  invited.catch(() => undefined);
  const created = await bot.command(
    `group create "${GROUP.subject}" ${spaced(BOB.phone)} ${spaced(CAROL.phone)}`,
    `the group "${GROUP.subject}"`,
  );
  const body = String(created.getContent().body);
  if (!body.startsWith("Created the group") || body.includes("Not added"))
    throw new Error(`\`group create\` did not add both: ${body}`);
  room = await invited.catch(() => Promise.reject(new Error("Alice was not invited to the room")));
  obs.rooms.set(room, W.room);
  const info = (await bob.client.groups.list()).find((g) => g.subject === GROUP.subject);
  if (!info) throw new Error(`Bob's app is not in "${GROUP.subject}"`);
  group = info.jid;
  step(`Alice was invited to the group's room ${room}; she accepts`);
  await alice.joinRoom(room);
  const puppets = await puppetsJoined(alice, room, [alice.getSafeUserId(), stack.botMxid], 2);
  step(`Bob and Carol are in the room as puppets: ${puppets.join(", ")}`);

  // --- Alice to both apps ----------------------------------------------------------------
  opts.onStep("relaying Alice's message to Bob's and Carol's apps");
  // The apps get Matrix HTML as the gatekeeper's markup.
  const helloMarkup = "Hi both! Shall we go *hiking* on Saturday?";
  const atBob = inApp(bobApp, "Bob", aliceJid, helloMarkup);
  const atCarol = inApp(carolApp, "Carol", aliceJid, helloMarkup);
  const content = {
    msgtype: MsgType.Text,
    body: "Hi both! Shall we go **hiking** on Saturday?",
    format: "org.matrix.custom.html",
    formatted_body: "Hi both! Shall we go <strong>hiking</strong> on Saturday?",
  };
  const m = matrixText(content);
  t.say(W.room, "Alice", m.text, m.extra);
  const { event_id: helloEvent } = await alice.sendMessage(room, content as never);
  const [helloAtBob] = await Promise.all([atBob, atCarol]);

  // --- Bob into the room, Carol answers him ------------------------------------------------
  opts.onStep("relaying Bob's message into the room");
  const yes = "Saturday works for me!";
  const bobInRoom = inRoom(`Bob's "${yes}"`, bodyIs(yes));
  const yesId = await nativeSays(asBob, yes);
  const bobEvent = await bobInRoom;

  opts.onStep("relaying Carol's reply into the room");
  const map = "Me too. I'll bring the map";
  const carolInRoom = inRoom(`Carol's "${map}"`, bodyIs(map));
  const carolAtBob = inApp(bobApp, "Bob", carol.jid, map);
  await nativeSays(asCarol, map, { id: yesId, from: bob.jid, name: BOB.name });
  const [reply] = await Promise.all([carolInRoom, carolAtBob]);
  const quoted = reply.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id;
  if (quoted !== bobEvent.getId())
    throw new Error("Carol's answer is not a reply to Bob's message");
  const carolPuppet = reply.getSender()!;
  step("Alice's client shows Carol's answer as a reply to Bob's message");

  // --- Carol's photo, Bob's reaction ----------------------------------------------------
  opts.onStep("relaying Carol's photo into the room");
  const photoInRoom = inRoom("Carol's photo", (e) => e.getContent().msgtype === MsgType.Image);
  const photoAtBob = bobApp.messages.next(
    (a) => a.value.group === group && gatekeeperText(a.value) === "[image] the map",
    STEP_TIMEOUT_MS,
    "Carol's photo in Bob's app",
  );
  t.say(asCarol.where, CAROL.name, "[image] the map (a PNG)");
  await sendPhoto(carol.client, group, PHOTO, "the map");
  const [photo] = await Promise.all([photoInRoom, photoAtBob]);
  const bytes = await download(stack.homeserver.url, alice, String(photo.getContent().url));
  if (!bytes.equals(PHOTO)) throw new Error("the photo in the room is not Carol's");
  step(`Alice's client downloads the photo: the same ${bytes.length} bytes Carol sent`);

  opts.onStep("relaying Bob's reaction into the room");
  const reacted = inRoom("Bob's reaction", (e) => e.getType() === "m.reaction");
  const reactionAtCarol = inApp(carolApp, "Carol", bob.jid, "reacts 👍");
  t.say(asBob.where, BOB.name, "reacts 👍 to Alice's message");
  const target = {
    id: helloAtBob.value.id,
    fromMe: false,
    remoteJid: group,
    participant: aliceJid,
  };
  await bob.client.groups.send(group, reactionMessage(target, "👍"));
  const [reaction] = await Promise.all([reacted, reactionAtCarol]);
  if (reaction.getContent()["m.relates_to"]?.event_id !== helloEvent)
    throw new Error("Bob's reaction is not on Alice's message");

  // --- a rename, and a member who leaves and comes back -----------------------------------
  opts.onStep("renaming the group from Matrix");
  const renamed = (app: AppArrivals, who: string) =>
    app.changes.next(
      (e) => e.group === group && e.change.type === "subject",
      STEP_TIMEOUT_MS,
      `the new name in ${who}'s app`,
    );
  const renames = Promise.all([renamed(bobApp, "Bob"), renamed(carolApp, "Carol")]);
  t.say(W.room, "Alice", `renames the room to "${GROUP.renamed}" (she made the group: its admin)`);
  await alice.setRoomName(room, GROUP.renamed);
  for (const e of await renames) {
    if (e.change.type === "subject" && e.change.subject !== GROUP.renamed)
      throw new Error(`the group was renamed to "${e.change.subject}", not "${GROUP.renamed}"`);
  }

  opts.onStep("Carol leaving the group");
  const puppetIs = (membership: string) => (e: MatrixEvent) =>
    e.getType() === "m.room.member" &&
    e.getStateKey() === carolPuppet &&
    e.getContent().membership === membership;
  const left = inRoom("Carol's puppet leaving", puppetIs("leave"));
  step("Carol leaves the group in her app");
  await carol.client.groups.leave(group);
  await left;
  t.say(W.room, nameOf(alice, room, carolPuppet), "left (the puppet)");

  opts.onStep("Alice adding Carol back by inviting her puppet");
  const added = carolApp.changes.next(
    (e) => e.group === group && e.change.type === "create",
    STEP_TIMEOUT_MS,
    "Carol's app to be added again",
  );
  // From now on: the puppet's first join is already in Alice's timeline.
  const joined = obs.matrix.next(
    (a) => a.value.getRoomId() === room && puppetIs("join")(a.value),
    STEP_TIMEOUT_MS,
    "Carol's puppet to join again",
  );
  t.say(W.room, "Alice", `invites ${nameOf(alice, room, carolPuppet)} back into the room`);
  await alice.invite(room, carolPuppet);
  await Promise.all([added, joined]);
  t.say(W.room, nameOf(alice, room, carolPuppet), "joined again (the puppet)");

  opts.onStep("relaying Carol's message after she is back");
  const back = "Thanks for adding me back!";
  const backInRoom = inRoom(`Carol's "${back}"`, bodyIs(back));
  await nativeSays(asCarol, back);
  await backInRoom;

  await bot.command("groups", `${GROUP.renamed} (3 members)`);
  return { dmRoomId: bot.roomId, groupRoomId: room };
}

/** Waits until `count` users besides `others` (the puppets) joined the room; their ids. */
async function puppetsJoined(
  client: MatrixClient,
  roomId: string,
  others: string[],
  count: number,
): Promise<string[]> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const joined = Object.keys((await client.getJoinedRoomMembers(roomId)).joined).filter(
      (u) => !others.includes(u),
    );
    if (joined.length >= count) return joined;
    if (Date.now() > deadline)
      throw new Error(`${joined.length} of ${count} puppets joined the group's room`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function nameOf(client: MatrixClient, roomId: string, userId: string): string {
  return client.getRoom(roomId)?.getMember(userId)?.name ?? userId;
}

/** As the gatekeeper's app sends a photo: encrypted, uploaded, then the message (§11). */
async function sendPhoto(
  client: GatekeeperClient,
  group: string,
  png: Buffer,
  caption: string,
): Promise<void> {
  const sealed = encryptMedia(png, "image");
  const uploaded = await client.uploadMedia(sealed.blob);
  const ref = {
    url: uploaded.url,
    directPath: uploaded.directPath,
    mediaKey: sealed.mediaKey,
    fileSha256: sealed.fileSha256,
    fileEncSha256: sealed.fileEncSha256,
    fileLength: sealed.fileLength,
    mimetype: "image/png",
  };
  await client.groups.send(group, mediaMessage("image", ref, { caption, width: 1, height: 1 }));
}

/** Downloads an mxc:// URI as Alice's client does (authenticated media). */
async function download(baseUrl: string, client: MatrixClient, mxc: string): Promise<Buffer> {
  const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
  if (!m) throw new Error(`the photo's event has no mxc URI: ${mxc}`);
  const res = await fetch(`${baseUrl}/_matrix/client/v1/media/download/${m[1]}/${m[2]}`, {
    headers: { authorization: `Bearer ${client.getAccessToken()}` },
  });
  if (res.status !== 200) throw new Error(`downloading the photo failed: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
